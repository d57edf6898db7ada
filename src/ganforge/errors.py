"""The one base class for errors a user can fix; the CLI prints their message on one line."""


class GanforgeError(Exception):
    """Bad input, missing files, an impossible setting: the message names the problem and fix."""
