from click.testing import CliRunner

from geoseg.cli.main import cli


def test_models_command_prints_measured_table():
    result = CliRunner().invoke(
        cli, ["models", "--arch", "dlinknet", "--backbone", "resnet34", "--backbone", "xception"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("dlinknet") and "resnet34" in line)
    params, gflops = (float(v) for v in row.split()[-2:])
    assert abs(params - 31.1) <= 0.3
    assert 150 < gflops < 300  # ResNet34 D-LinkNet at 1024²: ~212 GFLOPs
    assert any("legacy_xception" in line for line in lines)
    assert "any other timm model with features_only" in result.output


def test_models_command_unknown_backbone_is_one_line():
    result = CliRunner().invoke(cli, ["models", "--backbone", "nosuchnet"])
    assert result.exit_code == 1
    assert "unknown backbone 'nosuchnet'" in result.output
    assert "Traceback" not in result.output
