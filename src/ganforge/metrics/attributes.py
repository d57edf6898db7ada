"""A domain/attribute classifier of real images: the judge of StarGAN's translations.

The analogue of the StarGAN paper's RaFD classification error: a classifier trained on real
images of the domains (the evaluator's CNN, ``metrics/classifier.py``, with one output per
domain) names the domains of translated images; its accuracy on real test images is the
ceiling the translations are read against. Single-label domains: softmax, top-1 accuracy.
Multi-label: one sigmoid per attribute, the accuracy of each attribute (logit > 0, averaged
over attributes) and of the whole vector (every attribute right).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.metrics.classifier import ClassifierCNN, deterministic


@dataclass
class AttributeRecipe:
    """What decides the trained weights (the evaluator's recipe, shorter)."""

    epochs: int = 3  # passes over the training images
    batch_size: int = 128  # images per step
    lr: float = 3e-3  # AdamW learning rate (constant)
    weight_decay: float = 5e-4  # AdamW's decoupled weight decay
    seed: int = 0  # initialisation and data order


def _loss(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> torch.Tensor:
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets)
    return F.cross_entropy(logits, targets.argmax(1))


def fit_attribute_classifier(
    images: torch.Tensor, targets: torch.Tensor, multi_label: bool, recipe: AttributeRecipe | None = None
) -> ClassifierCNN:
    """Train on uint8 ``images [N, C, S, S]`` with label vectors ``targets [N, K]`` in {0, 1}
    (one-hot when single-label); deterministic for a recipe. Returns the model in eval mode."""
    recipe = recipe or AttributeRecipe()
    count, steps = len(images), len(images) // recipe.batch_size
    with deterministic():
        torch.manual_seed(recipe.seed)
        model = ClassifierCNN(images.shape[1], targets.shape[1])
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        order = torch.Generator().manual_seed(recipe.seed)
        model.train()
        for _ in range(recipe.epochs):
            perm = torch.randperm(count, generator=order)
            for step in range(steps):
                index = perm[step * recipe.batch_size : (step + 1) * recipe.batch_size]
                loss = _loss(model(images[index].float() / 127.5 - 1), targets[index], multi_label)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()


@torch.no_grad()
def predict(
    model: ClassifierCNN, images: torch.Tensor, multi_label: bool, batch_size: int = 500
) -> torch.Tensor:
    """Predicted label vectors ``[N, K]`` in {0, 1} for images ``[N, C, S, S]``: uint8, or
    float in [-1, 1]."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        batch = batch.float() / 127.5 - 1 if batch.dtype == torch.uint8 else batch.float()
        logits = model(batch)
        if multi_label:
            out.append((logits > 0).float())
        else:
            out.append(F.one_hot(logits.argmax(1), logits.shape[1]).float())
    return torch.cat(out)


def attribute_accuracy(predicted: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> dict[str, float]:
    """``{"attribute": mean per-attribute accuracy, "all": share with every attribute right}``
    for label vectors ``[N, K]``; single-label domains: both are the top-1 accuracy."""
    right = (predicted == targets).float()
    exact = right.min(1).values.mean().item()
    return {"attribute": right.mean().item() if multi_label else exact, "all": exact}
