"""The tiny CycleGAN / pix2pix of the game tests: 3-channel squares written by tests/games/conftest.py."""

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
    call order. Returns ``(outputs_ab, inputs_ba, stats)``."""
    outputs_ab, inputs_ba = [], []
    game.G_AB.register_forward_hook(lambda net, args, out: outputs_ab.append(out.detach().clone()))
    game.G_BA.register_forward_hook(lambda net, args, out: inputs_ba.append(args[0].detach().clone()))
    stats = game.iteration()
    return outputs_ab, inputs_ba, stats
