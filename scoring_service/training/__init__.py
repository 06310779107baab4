"""Statistical scorecards: WoE binning, logistic regression, points scaling, export to rules.

Kept out of `scoring_service.domain` because it needs numpy and scikit-learn; what it
produces is an ordinary scorecard version the domain validates and evaluates.
"""

from scoring_service.training.binning import Characteristic, Kind, bin_categorical, bin_numeric
from scoring_service.training.export import (
    cutoffs_from_scores,
    export_draft,
    export_version,
    nest,
    version_spec,
)
from scoring_service.training.metrics import Metrics, auc, evaluate_scores, ks
from scoring_service.training.model import (
    Feature,
    Scaling,
    TrainedScorecard,
    TrainingConfig,
    TrainingResult,
    train_scorecard,
)

__all__ = [
    "Characteristic",
    "Feature",
    "Kind",
    "Metrics",
    "Scaling",
    "TrainedScorecard",
    "TrainingConfig",
    "TrainingResult",
    "auc",
    "bin_categorical",
    "bin_numeric",
    "cutoffs_from_scores",
    "evaluate_scores",
    "export_draft",
    "export_version",
    "ks",
    "nest",
    "train_scorecard",
    "version_spec",
]
