"""`claims-tasks train` and `claims-tasks model-info`, and the model step of `claims-tasks init`.

scikit-learn is imported inside the commands, so the rest of the CLI starts without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from claims_tasks.config import get_settings

# `init` trains this many claims when no model exists: a few seconds, and still far above the baseline
# (docs/MODEL.md has the figures at this size and at the default 50,000 of `train`).
INIT_CLAIMS = 8_000


def train_model(path: Path, n_claims: int, seed: int | None = None, version: str | None = None) -> dict[str, Any]:
    """Train on a generated history and save to `path`; returns the metadata written."""
    from db.reference import reference_codes_from_files
    from ml import training

    trained = training.train(n_claims, training.DEFAULT_SEED if seed is None else seed, reference_codes_from_files())
    return training.save(trained, path, version)


def ensure_model(path: Path, n_claims: int = INIT_CLAIMS) -> str:
    """`init`: train a model into `path` when none is there; an existing one is left alone (and reported
    if it cannot be served). Returns one line for the operator."""
    from ml import artifacts

    path = Path(path)
    if not path.exists():
        doc = train_model(path, n_claims)
        return (
            f"trained {doc['version']} on {n_claims:,} claims into {path} "
            f"(macro-F1 {doc['metrics']['macro_f1']:.3f}, baseline {doc['baseline']['macro_f1']:.3f}); "
            "`claims-tasks train` trains on more"
        )
    try:
        artifact = artifacts.load(path)
    except artifacts.ModelError as exc:
        return f"WARNING: {exc}"
    return f"{path} (version {artifact.version}) already there"


@click.command()
@click.option("--claims", "n", type=click.IntRange(min=1_000), default=50_000, show_default=True,
              help="Claims of generated history (70% train, 10% validation, 20% test).")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Random seed (default: a fixed one, so reruns agree).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Artifact path (default: CLAIMS_MODEL_PATH); the metadata goes beside it as .json.")  # fmt: skip
@click.option("--version", "version", default=None, help="Version label (default: from the artifact's checksum).")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def train(n: int, seed: int | None, out: Path | None, version: str | None, as_json: bool) -> None:
    """Train the filter model on a labelled history (docs/MODEL.md) and save it with its metadata."""
    path = out or get_settings().model_path
    doc = train_model(path, n, seed, version)
    if as_json:
        click.echo(json.dumps(doc))
        return
    m, b = doc["metrics"], doc["baseline"]
    for name, c in doc["candidates"].items():
        click.echo(f"candidate {name:<24} validation macro-F1 {c['validation_macro_f1']:.4f}  fit {c['fit_seconds']}s")
    click.echo(f"chosen    {doc['algorithm']} ({doc['n_iter'] or '-'} rounds)")
    click.echo(f"test split ({m['n']:,} claims)   model      majority baseline")
    click.echo(f"  accuracy               {m['accuracy']:.4f}     {b['accuracy']:.4f}")
    click.echo(f"  macro-F1               {m['macro_f1']:.4f}     {b['macro_f1']:.4f}")
    click.echo(f"  Brier (denial risk)    {m['calibration']['brier']:.4f}     {b['calibration']['brier']:.4f}")
    click.echo(f"  ECE (denial risk)      {m['calibration']['ece']:.4f}     {b['calibration']['ece']:.4f}")
    for cls, r in m["per_class_recall"].items():
        click.echo(f"  recall {cls:<17} {r:.4f}     {b['per_class_recall'][cls]:.4f}")
    click.echo(f"saved {doc['version']} to {path} (+ {Path(path).with_suffix('.json').name})")


@click.command("model-info")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def model_info(as_json: bool) -> None:
    """The served model's metadata (and the A/B challenger's), checked as a worker checks it."""
    from claims_tasks.scoring import load_served
    from ml.serving import describe

    doc = describe(load_served(get_settings()))
    if as_json:
        click.echo(json.dumps(doc))
        return
    for label, d in (("model", doc), ("A/B challenger", doc.get("ab"))):
        if not d:
            continue
        m, b = d["metrics"], d["baseline"]
        click.echo(f"{label}: {d['version']} ({d['algorithm']}), {d['path']}")
        click.echo(
            f"  trained {d['trained_at']} on {d['training']['claims']:,} claims, scikit-learn {d['sklearn_version']}"
        )
        click.echo(f"  macro-F1 {m['macro_f1']:.4f} (baseline {b['macro_f1']:.4f}), accuracy {m['accuracy']:.4f}")
    s = doc["serving"]
    click.echo(f"review threshold {s['review_threshold']}, A/B share {s['ab_share']}")
