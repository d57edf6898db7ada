"""Games: what trains together (networks, optimizers, losses) and one iteration of it.

``base.py`` defines the interface the training loop relies on; each other module holds one
game and registers it by name.
"""

# The interface first, then the games (importing a game module registers it): a game module
# imports ganforge.training, whose loop may import this package while it is half done.
from ganforge.games.base import GAMES, Game, register_game  # noqa: I001
from ganforge.games import cyclegan, pix2pix  # noqa: F401  (translation games)

__all__ = ["GAMES", "Game", "register_game"]
