"""The table of GAN kinds is complete, and nothing outside it branches on a kind.

Every kind of ``trainer.kinds.KINDS`` must provide every piece the exporter,
evaluator, blessing, panels, client and pipeline read; a module outside the
kinds table and the registry must look a kind up instead of comparing its name
(or a GAN's name). Checked on the source, like tests/unit/test_layering.py."""
import ast
import inspect
import pathlib

import pytest

from trainer import features as F
from trainer import kinds, registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("trainer", "serving", "tfx_pipeline", "bench")
ALLOWED = {"trainer/kinds.py", "trainer/registry.py"}
KIND_CONSTANTS = {"UNCONDITIONAL", "PAIRED", "INPAINTING"}

# Data pieces every kind sets (methods are abstract in Kind: a kind without one
# cannot be instantiated, which test_kind_without_a_piece_cannot_exist shows).
DATA_PIECES = {
    "name": str, "summary": str, "roles": tuple, "serving_inputs": tuple,
    "example_features": dict, "contract": dict, "primary_metrics": tuple,
    "ct_capable": bool, "bulk_inference": bool,
}
METHOD_PIECES = sorted(n for n, v in vars(kinds.Kind).items()
                       if getattr(v, "__isabstractmethod__", False))


def test_the_method_pieces_are_the_ones_the_project_reads():
    assert set(METHOD_PIECES) >= {"serve", "serve_examples", "generator_inputs", "request",
                                  "client_inputs", "sample_request", "gate_checks", "evaluate",
                                  "eval_train_limit", "panel_rows"}


@pytest.mark.parametrize("name", sorted(kinds.KINDS))
def test_every_kind_provides_every_piece(name):
    kind = kinds.KINDS[name]
    assert kind.name == name
    assert not inspect.isabstract(type(kind))
    for piece in METHOD_PIECES:
        impl = getattr(type(kind), piece)
        assert not getattr(impl, "__isabstractmethod__", False), f"{name} lacks {piece}()"
    for piece, typ in DATA_PIECES.items():
        assert piece in {a for cls in type(kind).__mro__[:-2] for a in vars(cls)}, \
            f"{name} does not set {piece}"
        assert isinstance(getattr(kind, piece), typ), f"{name}.{piece} is not a {typ.__name__}"
    assert kind.summary and kind.roles and kind.serving_inputs and kind.primary_metrics
    assert set(kind.roles) <= {F.IMAGE, F.INPUT, F.TARGET}
    assert kind.generator_role is None or kind.generator_role in kind.roles
    for input_name, dtype in kind.serving_inputs:
        assert input_name in (F.IN_IMAGES, F.IN_MASKS, F.IN_SEEDS)
        assert dtype in (kinds.STRING, kinds.INT64)
    assert set(kind.example_features.values()) <= {kinds.STRING, kinds.INT64}
    assert all(isinstance(m, str) and isinstance(h, bool) for m, h in kind.primary_metrics)


@pytest.mark.parametrize("name", sorted(kinds.KINDS))
def test_a_request_has_exactly_the_serving_inputs(name):
    kind = kinds.KINDS[name]
    for blank in (False, True):
        request = kind.request(2, (4, 4, 1), blank=blank)
        assert list(request) == [n for n, _ in kind.serving_inputs]
        assert all(len(v) == 2 for v in request.values())


def test_kind_without_a_piece_cannot_exist():
    pieces = {k: v for k, v in vars(kinds.Unconditional).items() if k != "panel_rows"}
    broken = type("Broken", (kinds.Kind,), pieces)        # a fourth kind, one piece short
    with pytest.raises(TypeError, match="panel_rows"):
        broken()


def test_registry_reads_roles_and_contract_from_the_table():
    for spec in registry.GANS.values():
        assert spec.roles == kinds.get(spec.kind).roles
    assert registry.KIND_CONTRACT == {n: dict(k.contract) for n, k in kinds.KINDS.items()}
    assert (registry.UNCONDITIONAL, registry.PAIRED, registry.INPAINTING) == (
        kinds.UNCONDITIONAL, kinds.PAIRED, kinds.INPAINTING)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"unknown GAN kind 'sketch'; expected one of"):
        kinds.get("sketch")


def test_example_features_reject_what_a_kind_does_not_read():
    assert set(kinds.example_features(kinds.UNCONDITIONAL, seed=3)) == {kinds.SEED_FEATURE}
    with pytest.raises(ValueError, match=r"paired GAN's examples have no \['seed'\]"):
        kinds.example_features(kinds.PAIRED, seed=3)


# ------------------------------------------------------ nothing else branches
def _names(node) -> set[str]:
    """Kind and GAN names an expression spells: constants, strings, tuples of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & (set(kinds.KINDS) | set(registry.GANS))
    if isinstance(node, ast.Attribute) and node.attr in KIND_CONSTANTS:
        return {node.attr}
    if isinstance(node, ast.Name) and node.id in KIND_CONSTANTS:
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*map(_names, node.elts)) if node.elts else set()
    return set()


def branches_on_kind_or_gan(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            spelled = set().union(*map(_names, [node.left, *node.comparators]))
            if spelled:
                found.append(f"line {node.lineno}: compares with {sorted(spelled)}")
        elif isinstance(node, ast.match_case):
            spelled = {p.value.value for p in ast.walk(node.pattern)
                       if isinstance(p, ast.MatchValue) and isinstance(p.value, ast.Constant)}
            spelled &= set(kinds.KINDS) | set(registry.GANS)
            if spelled:
                found.append(f"line {node.pattern.lineno}: matches {sorted(spelled)}")
    return found


def test_the_check_sees_a_branch(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("if spec.kind == registry.PAIRED:\n    pass\n"
                   "x = 1 if kind in ('inpainting',) else 2\n"
                   "y = name != 'pix2pix_wgan_gp'\n")
    assert len(branches_on_kind_or_gan(bad)) == 3


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_outside_the_table_branches_on_a_kind(package):
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in ALLOWED:
            continue
        found = branches_on_kind_or_gan(path)
        if found:
            bad[rel] = found
    assert not bad, f"look the kind up in trainer.kinds instead of comparing names: {bad}"

