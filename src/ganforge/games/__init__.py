"""Games: what trains together (networks, optimizers, losses) and one iteration of it.

``base.py`` defines the interface the training loop relies on; each other module holds one
game and registers it by name. ``game_for(cfg)`` picks the game of a config.
"""

# The interface first, then the games (importing a game module registers it): a game module
# imports ganforge.training, whose loop may import this package while it is half done.
from ganforge.games.base import GAMES, Game, Scorer, register_game  # noqa: I001
from ganforge.games import cyclegan, gan, pix2pix, stargan  # noqa: F401  (registers the games)
from ganforge.config import Config, ConfigError
from ganforge.models import MODELS

__all__ = ["GAMES", "Game", "Scorer", "game_for", "register_game"]


def game_for(cfg: Config) -> type[Game]:
    """The game a config trains: ``model.name`` when it names a game (cyclegan, pix2pix,
    stargan, ...); every model family of the models registry (mlp, dcgan, ...) plays "gan"."""
    name = cfg.model.name
    if name in GAMES and name != "gan":
        return GAMES[name]
    if name in MODELS:
        return GAMES["gan"]
    choices = sorted({*MODELS, *(g for g in GAMES if g != "gan")})
    raise ConfigError(
        f"model.name={name!r} is neither a model family nor a game; choose one of: {', '.join(choices)}"
    )
