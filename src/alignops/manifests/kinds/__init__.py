"""Manifest kinds, one module each; importing this package registers them all."""

from alignops.manifests.kinds.alertroute import AlertRoute
from alignops.manifests.kinds.alertrule import AlertRule
from alignops.manifests.kinds.budget import Budget
from alignops.manifests.kinds.dataset import Dataset
from alignops.manifests.kinds.deployment import ModelDeployment
from alignops.manifests.kinds.exception import PolicyException
from alignops.manifests.kinds.function import ServerlessFunction
from alignops.manifests.kinds.model import Model
from alignops.manifests.kinds.policy import ModelDeploymentPolicy

__all__ = [
    "AlertRoute",
    "AlertRule",
    "Budget",
    "Dataset",
    "Model",
    "ModelDeployment",
    "ModelDeploymentPolicy",
    "PolicyException",
    "ServerlessFunction",
]
