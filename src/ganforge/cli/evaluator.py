"""``ganforge evaluator train``: train the feature classifier CNN (``metrics/classifier.py``)
whose features and softmax score GANs offline (fid_fmnist, is_fmnist, ...). The command keeps
its name; the thing it trains is a classifier."""

from __future__ import annotations

import sys


def add_parser(subparsers):
    p = subparsers.add_parser(
        "evaluator",
        help="train the feature classifier CNN whose features score GANs offline",
        description="Train ganforge's feature classifier CNN on a data set's train split, "
        "deterministically; its penultimate layer gives the features of fid_<tag> and friends, "
        "its softmax the IS and class coverage. Fashion-MNIST's ships with ganforge; MNIST's and "
        "CIFAR-10's are built here when their files are present (they are not bundled).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="train and write evaluator-<dataset>.safetensors")
    train.add_argument("dataset", choices=["fashion-mnist", "mnist", "cifar10"])
    train.add_argument(
        "--out",
        help="folder for the weights and json (default: "
        "$GANFORGE_CACHE/evaluators, where eval looks after the "
        "package's own weights/)",
    )
    train.add_argument("--root", help="folder holding the data set files")
    train.add_argument("--seed", type=int, default=0, help="initialisation and data order")
    train.add_argument("--epochs", type=int, help="passes over the training split")
    return p


def run(args) -> int:
    from dataclasses import replace

    from ganforge.data.registry import DataError
    from ganforge.metrics.classifier import Recipe, train_classifier

    recipe = Recipe(seed=args.seed)
    if args.epochs is not None:
        recipe = replace(recipe, epochs=args.epochs)
    command = "ganforge " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["evaluator"] else None
    try:
        path, info = train_classifier(
            args.dataset,
            args.out,
            recipe,
            data_root=args.root,
            log=lambda text: print(f"ganforge: {text}", file=sys.stderr),
            command=command,
        )
    except DataError as err:  # the readers' advice names train's setting; this command has --root
        message = str(err).replace("--set data.root=DIR", "--root DIR").replace("data.root=", "--root ")
        raise DataError(message.replace("data.root", "--root")) from None
    print(
        f"ganforge: wrote {path} (test accuracy {info['test_accuracy']:.4f}, sha256 {info['sha256'][:16]}...)"
    )
    return 0
