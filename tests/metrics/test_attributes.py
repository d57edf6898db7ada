"""The attribute classifier that judges StarGAN's translations."""

import torch

from ganforge.metrics.attributes import AttributeRecipe, attribute_accuracy, fit_attribute_classifier, predict


def coloured_squares(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 [N, 3, 12, 12]: attribute k on = channel k bright; labels [N, 3] multi-hot."""
    generator = torch.Generator().manual_seed(seed)
    attributes = torch.randint(0, 2, (count, 3), generator=generator).float()
    noise = torch.randint(0, 60, (count, 3, 12, 12), generator=generator)
    images = (attributes[:, :, None, None] * 180 + noise).to(torch.uint8)
    return images, attributes


def test_multi_label_classifier_learns_and_is_deterministic():
    images, attributes = coloured_squares(512, seed=0)
    recipe = AttributeRecipe(epochs=2, batch_size=64)
    model = fit_attribute_classifier(images, attributes, multi_label=True, recipe=recipe)
    test_images, test_attributes = coloured_squares(200, seed=1)
    scores = attribute_accuracy(predict(model, test_images, True), test_attributes, multi_label=True)
    assert scores["attribute"] > 0.95 and scores["all"] > 0.85
    again = fit_attribute_classifier(images, attributes, multi_label=True, recipe=recipe)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    # float input in [-1, 1] gives the same predictions as uint8
    assert torch.equal(
        predict(model, test_images.float() / 127.5 - 1, True), predict(model, test_images, True)
    )


def test_single_label_accuracy_is_top1():
    predicted = torch.eye(3)[[0, 1, 2, 2]]
    targets = torch.eye(3)[[0, 1, 1, 2]]
    assert attribute_accuracy(predicted, targets, multi_label=False) == {"attribute": 0.75, "all": 0.75}
    multi = attribute_accuracy(predicted, targets, multi_label=True)
    assert multi["all"] == 0.75 and abs(multi["attribute"] - 10 / 12) < 1e-6
