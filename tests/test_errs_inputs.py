"""Bad inputs found by QA (L4, L8): one sentence naming the file and what is wrong."""

from __future__ import annotations

import fake_models
import pytest
import torch

from geoseg.checkpoint import load_checkpoint, save_checkpoint
from geoseg.config import load_config
from geoseg.errors import CheckpointError, ConfigError


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_config_is_refused(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: empty config"


def test_a_yaml_list_is_not_a_config(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: expected a mapping of keys, got a YAML list"


def test_weights_of_another_backbone_say_so(tmp_path):
    other = load_checkpoint(fake_models.save_tiny_checkpoint(tmp_path / "other.pt"))
    payload = other.to_dict()
    payload["state_dict"] = {"encoder.x.weight": torch.zeros(1), **payload["state_dict"]}
    del payload["state_dict"][next(k for k in other.state_dict if k.startswith("decoder"))]
    bad = save_checkpoint(tmp_path / "bad.pt", payload)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad).build_model()
    message = str(err.value)
    assert message.startswith(f"{bad}: weights are for another architecture/backbone")
    assert "(1 keys missing, 1 unexpected, first: decoder" in message
