"""hubconf.py: torch.hub.load(repo, name, source="local") for every architecture and zoo entry."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import videozoo

REPO = Path(__file__).resolve().parents[1]


def hub_load(name: str, *args, **kwargs) -> torch.nn.Module:
    return torch.hub.load(str(REPO), name, *args, source="local", trust_repo=True, **kwargs)


@pytest.mark.parametrize("arch", videozoo.list_architectures())
def test_every_architecture_loads_through_torch_hub(arch):
    model = hub_load(arch, pretrained=False, num_classes=5)
    reference = videozoo.create_model(arch, num_classes=5)
    assert type(model) is type(reference) and model.num_classes == 5
    assert model.state_dict().keys() == reference.state_dict().keys()


def test_hubconf_lists_every_architecture():
    """What torch.hub.list reports for a GitHub copy: the public callables of hubconf.py."""
    spec = importlib.util.spec_from_file_location("videozoo_hubconf", REPO / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    listed = {n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")}
    assert set(videozoo.list_architectures()) <= listed
    assert {"create_model", "list_models"} <= listed


def test_zoo_entries_through_create_model_and_by_name():
    names = videozoo.list_models()
    entries = [n for n in names if n not in videozoo.list_architectures()]
    assert entries
    entry = next(n for n in entries if "mobilenetv2" in n and ("." in n or "-" in n))
    model = hub_load("create_model", entry, pretrained=False)
    assert model.pretrained_cfg["name"] == videozoo.pretrained_info(entry)["name"]
    by_name = hub_load(entry, pretrained=False)  # torch.hub looks the name up with getattr
    assert by_name.pretrained_cfg["name"] == model.pretrained_cfg["name"]
    x = torch.randn(1, 3, 8, 32, 32)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (1, model.num_classes)


def test_hub_forwards_kwargs_and_errors():
    model = hub_load("create_model", "tsm_regnetx_002", num_classes=0)
    assert model.num_classes == 0
    with pytest.raises(ValueError, match="num_classes"):
        hub_load("tsm_mobilenetv2", num_classes=-1)
