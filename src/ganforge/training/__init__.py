"""Training: the alternating D/G steps, the run state and the loop that schedules them."""

from ganforge.training.loop import TrainingDiverged, train, train_iteration
from ganforge.training.state import TrainState, build_state

__all__ = ["TrainState", "TrainingDiverged", "build_state", "train", "train_iteration"]
