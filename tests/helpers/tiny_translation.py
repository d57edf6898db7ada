"""The tiny CycleGAN / pix2pix of the game tests: 3-channel squares written by tests/games/conftest.py."""

from ganforge.games.lanes import Lanes

SIZE = 16  # px of the squares the tests write


def tiny_translation(game, pairs):
    """Overrides for ``game`` (cyclegan: the unpaired layout; pix2pix: the paired one) on ``pairs``."""
    data = "unpaired" if game == "cyclegan" else "paired"
    return [
        f"data.name={data}",
        f"data.root={pairs / data}",
        f"data.image_size={SIZE}",
        "data.channels=3",
        "model.g_width=4",
        "model.d_width=4",
        "model.res_blocks=1",
        "train.batch_size=4",
        "train.loss=lsgan",
        "train.pool_size=6",
    ]


def traced_iteration(game):
    """One iteration of a built CycleGAN ``game``, recording G_AB's outputs and G_BA's inputs in
    call order, with the lanes serial (the A -> B -> A lane, then B -> A -> B): G_AB(a),
    G_AB(G_BA(b) + noise), G_AB(b) (identity); G_BA(G_AB(a) + noise), G_BA(a) (identity),
    G_BA(b). Returns ``(outputs_ab, inputs_ba, stats)``."""
    game.lanes = Lanes(False)
    outputs_ab, inputs_ba = [], []
    game.G_AB.register_forward_hook(lambda net, args, out: outputs_ab.append(out.detach().clone()))
    game.G_BA.register_forward_hook(lambda net, args, out: inputs_ba.append(args[0].detach().clone()))
    stats = game.iteration()
    return outputs_ab, inputs_ba, stats
