"""Scoring a StarGAN run: ``ganforge eval --run RUN`` when RUN's generator.json says ``game:
stargan`` (docs/stargan.md, "Evaluation").

Test images of every domain (``n`` sources, a seeded subset of the test split, else of the
training set) are translated into every label combination that occurs in the training data
other than their own (the targets the game trains on), and scored:

- **domain accuracy**: a judge CNN (``metrics/attributes.py``) trained on the run's real
  training images names the domains of each translation; its accuracy on real test images is
  printed beside it (the ceiling), and that of the untranslated input (identity, the floor).
  Multi-label domains: per-attribute accuracy, and the share with every attribute right.
  The judge is trained once per data set and cached under ``<cache>/stargan-judges``.
- **content**: on fmnist-styles, the garment class of each translation by the shipped
  Fashion-MNIST evaluator (gray-converted), beside its accuracy on the real styled inputs;
  everywhere, the reconstruction error ``|x - G(G(x, c), c')|`` on the [0, 1] scale.
- **truth** (fmnist-styles only): the mean absolute error against ``styles.render`` of the
  garment in the target style, beside identity's (output = input) and their ratio.
- **per-domain FID** on the judge's features (the StarGAN v2 protocol): for each target, its
  translations against the target's real training images; the mean over targets.

The report also splits the per-translation scores by target and by kind of change
(``per_target``, ``per_change``: ``evaluation/stargan_breakdown.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ganforge import __version__
from ganforge.checkpoint import CheckpointError, generator_paths, saved_config
from ganforge.config import DataConfig
from ganforge.data import Dataset, load_dataset
from ganforge.data.domains import Domains
from ganforge.data.registry import DataError
from ganforge.data.styles import garments, render, unrender
from ganforge.errors import GanforgeError
from ganforge.evaluation.stargan_breakdown import BREAKDOWN_COLUMNS, breakdown, format_breakdown, label_name
from ganforge.files import atomic_write, cache_root
from ganforge.metrics.attributes import AttributeRecipe, attribute_accuracy, fit_attribute_classifier, predict
from ganforge.metrics.classifier import ClassifierCNN, standardize
from ganforge.metrics.features import classifier_network
from ganforge.metrics.fid import fid_from_features
from ganforge.models.stargan import build_generator

DEFAULT_SOURCES = 500  # test images translated (each into every other target)
JUDGE_IMAGES = 20_000  # real training images the judge learns from (a seeded subset)
JUDGE_FORMAT = 1  # bump when the judge's recipe changes: cached judges are keyed by it
MAX_TARGETS = 64  # label combinations scored at most (the most frequent ones)
FID_REAL = 2_000  # real training images per target domain for its FID
FID_MIN = 10  # a target with fewer translations or real images gets no FID
BATCH = 250


def is_stargan_run(run_dir: str | Path, which: str = "last") -> bool:
    """Whether the run's exported generator is a StarGAN's (``game: stargan`` in its json)."""
    _, info = generator_paths(run_dir, which)
    try:
        return json.loads(info.read_text()).get("game") == "stargan"
    except (OSError, ValueError, AttributeError):
        return False


def load_star_generator(run_dir: str | Path, which: str = "last", device: str = "cpu"):
    """``(G in eval mode, meta)`` from the run's ``generator[-which].safetensors`` + json."""
    weights, info = generator_paths(run_dir, which)
    try:
        meta = json.loads(info.read_text())
        G = build_generator(meta)
        G.load_state_dict(load_file(str(weights)))
    except Exception as err:  # missing files, bad JSON, shape mismatch
        raise CheckpointError(
            f"cannot rebuild the StarGAN generator in {run_dir}: {str(err).splitlines()[0][:200]}"
        ) from None
    return G.to(device).eval(), meta


# --- the judge ----------------------------------------------------------------------------


def _judge_key(cfg: DataConfig, domains: Domains, count: int) -> str:
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("split",)}
    key = {"data": fields, "domains": list(domains.names), "images": count, "format": JUDGE_FORMAT}
    key["recipe"] = dataclasses.asdict(AttributeRecipe())
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def domain_judge(
    train: Dataset, cfg: DataConfig, domains: Domains, cache: bool, log: Callable[[str], None]
) -> tuple[ClassifierCNN, str]:
    """A classifier of the real domains (``metrics/attributes.py``), its features standardized
    on its training images; cached per data set. Returns ``(model in eval mode, its path)``."""
    count = min(JUDGE_IMAGES, len(train))
    path = cache_root() / "stargan-judges" / f"{train.name}-{_judge_key(cfg, domains, count)}.safetensors"
    model = ClassifierCNN(train.shape[0], len(domains.names))
    if cache and path.is_file():
        model.load_state_dict(load_file(str(path)))
        return model.eval(), str(path)
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:count]
    images, vectors = train.data[index], domains.vectors(train)[index]
    log(f"training the domain judge on {count} real {train.name} images (once; cached)")
    recipe = AttributeRecipe(batch_size=min(AttributeRecipe.batch_size, count))
    with torch.random.fork_rng(devices=[]):
        model = fit_attribute_classifier(images, vectors, domains.multi_label, recipe)
    standardize(model, images)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        atomic_write(path, lambda tmp: save_file(state, tmp))
    return model, str(path)


# --- translating --------------------------------------------------------------------------


def target_combinations(vectors: torch.Tensor) -> torch.Tensor:
    """The label vectors ``[T, K]`` that occur in ``vectors [N, K]``, most frequent first (at
    most ``MAX_TARGETS``): the targets StarGAN trains on (a permutation of real labels)."""
    unique, counts = torch.unique(vectors, dim=0, return_counts=True)
    return unique[counts.argsort(descending=True, stable=True)][:MAX_TARGETS]


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8 [0, 255], as an exported translation is saved."""
    return ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def translate_all(G, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, device: str):
    """Every source into every target but its own label. Returns ``(fake uint8 [M, C, S, S],
    source index [M], target vectors [M, K], reconstruction MAE per translation [M])``."""
    fakes, sources, wanted, rec = [], [], [], []
    for target in targets:
        keep = (~(labels == target).all(1)).nonzero().flatten()
        for chunk in keep.split(BATCH):
            x = images[chunk].to(device).float() / 127.5 - 1
            c = target.expand(len(chunk), -1).to(device)
            fake = G(x, c)
            back = G(fake, labels[chunk].to(device))
            fakes.append(to_uint8(fake).cpu())
            rec.append(((back - x).abs() / 2).mean((1, 2, 3)).cpu())  # [0, 1] pixel scale
            sources.append(chunk)
            wanted.append(c.cpu())
    return torch.cat(fakes), torch.cat(sources), torch.cat(wanted), torch.cat(rec)


# --- scores -------------------------------------------------------------------------------


@torch.no_grad()
def judge_features(judge: ClassifierCNN, images: torch.Tensor) -> np.ndarray:
    """The judge's standardized penultimate features float64 ``[N, D]`` of uint8 images."""
    parts = [judge.features_and_logits(b.float() / 127.5 - 1)[0] for b in images.split(BATCH)]
    return torch.cat(parts).double().numpy()


def _add(scores: dict, name: str, value: float | None, definition: str, **parameters) -> None:
    scores[name] = {"value": value, "protocol": {"definition": definition, "parameters": parameters}}


def accuracy_scores(judge, domains: Domains, inputs, fake, targets, test, test_vectors, out) -> dict:
    """Domain accuracy of the translations; of real test images; of the inputs (identity).
    Returns the translations' per-translation values ``{score name: [M]}`` (the breakdown's)."""
    scores, context = out["scores"], out["context"]
    multi = domains.multi_label
    predicted = predict(judge, fake, multi)
    acc = attribute_accuracy(predicted, targets, multi)
    real = attribute_accuracy(predict(judge, test, multi), test_vectors, multi)
    same = attribute_accuracy(predict(judge, inputs, multi), targets, multi)
    names = (("attribute_accuracy", "attribute"), ("all_attributes_accuracy", "all")) if multi else ()
    for name, key in names or (("domain_accuracy", "all"),):
        what = "per attribute" if key == "attribute" else "whole label vector right"
        _add(scores, name, acc[key], f"judge's accuracy on translations to their targets ({what})")
        context["real_test"][name], context["identity"][name] = real[key], same[key]
    right = (predicted == targets).float()  # [M, K]
    if not multi:
        return {"domain_accuracy": right.min(1).values}
    return {"attribute_accuracy": right.mean(1), "all_attributes_accuracy": right.min(1).values}


def content_scores(fake, garment_labels, inputs, targets, sources, rec, device, out) -> dict:
    """Garment class (fmnist-styles; shipped Fashion-MNIST evaluator) and reconstruction.
    Returns the per-translation values ``{score name: [M]}`` (the breakdown's).

    The evaluator knows white garments on black: each image is first read back to gray with
    ``styles.unrender`` in the style it should have (a translation: its target; a real input:
    its own), which also penalises a translation that missed its style."""
    scores, context = out["scores"], out["context"]
    _add(scores, "reconstruction_mae", rec.mean().item(), "mean |x - G(G(x, c), c')| on the [0, 1] scale")
    if garment_labels is None:
        return {"reconstruction_mae": rec}
    net = classifier_network("fashion-mnist")  # loaded once for both reads
    right = garment_right(net, fake, targets, garment_labels, device)
    _add(
        scores,
        "garment_accuracy",
        right.mean().item(),
        "shipped Fashion-MNIST evaluator's garment-class accuracy on translations, read back to "
        "gray in their target style",
    )
    context["real_test"]["garment_accuracy"] = (
        garment_right(net, inputs, sources, garment_labels, device, label="real inputs").mean().item()
    )
    return {"reconstruction_mae": rec, "garment_accuracy": right}


def garment_right(
    net, images, styles, garment_labels, device: str = "cpu", label: str = "translations"
) -> torch.Tensor:
    """float ``[M]`` in {0, 1}: whether ``net`` (the shipped Fashion-MNIST evaluator,
    ``classifier_network("fashion-mnist")``) names the garment class ``garment_labels [M]`` of
    uint8 ``images [M, 3, S, S]`` read back to gray as drawn in ``styles [M, 5]``
    (``styles.unrender``)."""
    gray = unrender(images, styles).numpy()
    probs = net.extract(gray, device, label=label)[0].probs
    return (torch.from_numpy(probs.argmax(1)) == garment_labels).float()


def truth_scores(fake, inputs, truth, out) -> dict:
    """fmnist-styles: MAE against the rendered truth; identity's; their ratio. Returns the
    per-translation errors ``{"truth_mae": [M], "identity_truth_mae": [M]}`` (the breakdown's)."""
    errors = ((fake.float() - truth.float()).abs() / 255).mean((1, 2, 3))
    identities = ((inputs.float() - truth.float()).abs() / 255).mean((1, 2, 3))
    mae, identity = errors.mean().item(), identities.mean().item()
    _add(out["scores"], "truth_mae", mae, "mean |G(x, c) - render(garment, c)| on the [0, 1] scale")
    _add(out["scores"], "truth_mae_ratio", mae / identity, "truth_mae / identity's (target <= 0.20)")
    out["context"]["identity"].update(truth_mae=identity, truth_mae_ratio=1.0)
    return {"truth_mae": errors, "identity_truth_mae": identities}


def fid_scores(judge, domains, combos, train, test, fake, inputs, targets, out) -> None:
    """FID per target on the judge's features (translations into it vs its real training
    images), averaged over targets; identity (the untranslated inputs) and real test images
    of the target beside it."""
    train_vectors, test_vectors = domains.vectors(train), domains.vectors(test)
    f_fake, f_inputs = judge_features(judge, fake), judge_features(judge, inputs)
    per, ident, real, minimum = {}, [], [], judge.penultimate.out_features + 1
    for target in combos:
        mask = (targets == target).all(1).numpy()
        reals = (train_vectors == target).all(1).nonzero().flatten()[:FID_REAL]
        tests = (test_vectors == target).all(1).nonzero().flatten()[:FID_REAL]
        if mask.sum() < minimum or len(reals) < minimum:
            continue
        f_real = judge_features(judge, train.data[reals])
        per[label_name(domains, target)] = fid_from_features(f_fake[mask], f_real)
        ident.append(fid_from_features(f_inputs[mask], f_real))
        if len(tests) >= minimum:
            real.append(fid_from_features(judge_features(judge, test.data[tests]), f_real))
    value = float(np.mean(list(per.values()))) if per else None
    _add(
        out["scores"], "fid_per_domain", value, "mean over targets of FID(translations, target's real images)"
    )
    out["context"]["identity"]["fid_per_domain"] = float(np.mean(ident)) if ident else None
    out["context"]["real_test"]["fid_per_domain"] = (
        float(np.mean(real)) if real and len(real) == len(per) else None
    )
    out["per_domain_fid"] = per
    if len(per) < len(combos):
        out["notes"].append(
            f"fid_per_domain: {len(combos) - len(per)} of {len(combos)} targets skipped (FID needs "
            f"{minimum}+ translations and real images each)"
        )


# --- the run ------------------------------------------------------------------------------


def scoring_split(cfg: DataConfig, domains: Domains, train: Dataset, notes: list[str]) -> Dataset:
    """The run's test split (whole), or its training set when it has no test split."""
    try:
        test = load_dataset(dataclasses.replace(cfg, split="test", limit=None), seed=0)
        if Domains.of(test) == domains:
            return test
        notes.append("the test split names other domains than the training set: scored on training images")
    except DataError:
        notes.append(f"{train.name} has no test split: sources and 'real_test' are training images")
    return train


def evaluate_stargan_run(
    run_dir: str | Path,
    n: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    which: str = "last",
    cache: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Score a StarGAN run (module docstring); returns the report (``format_stargan_report``)."""
    log = log or (lambda text: None)
    G, meta = load_star_generator(run_dir, which, device)
    run_cfg = saved_config(run_dir)
    cfg = run_cfg.data
    train = load_dataset(cfg, seed=run_cfg.run.seed)  # as the game loaded it
    domains = Domains.of(train)
    if list(domains.names) != meta["domain_names"]:
        raise GanforgeError(
            f"{run_dir}: the data now names domains {domains.names}, G was trained on "
            f"{meta['domain_names']}; restore the run's data"
        )
    out = {"scores": {}, "context": {"real_test": {}, "identity": {}}, "notes": []}
    test = scoring_split(cfg, domains, train, out["notes"])
    judge, judge_path = domain_judge(train, cfg, domains, cache, log)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[: n or DEFAULT_SOURCES]
    images, labels = test.data[pick], domains.vectors(test)[pick]
    combos = target_combinations(domains.vectors(train))
    log(f"translating {len(pick)} sources into {len(combos)} targets")
    fake, src, targets, rec = translate_all(G, images, labels, combos, device)
    inputs = images[src]
    some = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:FID_REAL]
    some_test = (test.data[some], domains.vectors(test)[some])
    values = accuracy_scores(judge, domains, inputs, fake, targets, *some_test, out)
    styles = train.name == "fmnist-styles"
    garment = test.labels[pick][src] if styles else None
    values |= content_scores(fake, garment, inputs, targets, labels[src], rec, device, out)
    if styles:
        gray, _ = garments(dataclasses.replace(cfg, split="test", limit=None))
        values |= truth_scores(fake, inputs, render(gray[pick][src], targets), out)
    else:
        out["notes"].append(
            f"garment_accuracy, truth_mae, truth_mae_ratio: fmnist-styles only ({train.name} has no "
            "garment classes to keep and no rendered truth)"
        )
    fid_scores(judge, domains, combos, train, test, fake, inputs, targets, out)
    out |= breakdown(domains, combos, labels[src], targets, values)
    return {
        "game": "stargan",
        "real": f"{train.name} (domain judge {judge_path})",
        "fake": f"{run_dir} ({which}, step {meta.get('step')})",
        "run": str(run_dir),
        "which": which,
        "step": meta.get("step"),
        "domains": list(domains.names),
        "n_sources": len(pick),
        "n_fake": len(fake),
        "targets": len(combos),
        "seed": seed,
        "ganforge_version": __version__,
        **out,
    }


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_stargan_report(report: dict) -> str:
    """The printed table: each score beside real test images' and identity's."""
    lines = [
        f"ganforge eval (stargan): {report['fake']}  vs  {report['real']}",
        f"{report['n_sources']} sources x {report['targets']} targets (own label skipped): "
        f"{report['n_fake']} translations, seed {report['seed']}, ganforge {report['ganforge_version']}",
        "",
    ]
    rows = [["metric", "value", "real_test", "identity"]]
    for name, score in report["scores"].items():
        context = [report["context"][k].get(name) for k in ("real_test", "identity")]
        rows.append([name, _fmt(score["value"]), *map(_fmt, context)])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines += [
        "context: real_test = real test images (the judge's / evaluator's own accuracy; FID of the "
        "target's test images); identity = output = input",
        "",
        "protocol:",
        *(f"  {name}: {score['protocol']['definition']}" for name, score in report["scores"].items()),
        *(f"note: {note}" for note in report["notes"]),
        *format_breakdown(report, BREAKDOWN_COLUMNS),
    ]
    return "\n".join(lines)
