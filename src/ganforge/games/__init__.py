"""Games: what trains together (networks, optimizers, losses) and one iteration of it.

``base.py`` defines the interface the training loop relies on; each other module holds one
game and registers it by name.
"""

from ganforge.games import stargan  # noqa: F401  (registers the game)
from ganforge.games.base import GAMES, Game, register_game

__all__ = ["GAMES", "Game", "register_game"]
