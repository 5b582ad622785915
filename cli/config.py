"""``hlmm config``: check a config file and list the documented log events (wiring only)."""
from __future__ import annotations

import dataclasses
from typing import Any

import click

from cli.common import config_path, json_option, print_json, print_table, wants_json
from hlmm.config import SECTIONS, Config, load_config
from hlmm.config_schema import toml_value
from hlmm.errors import ConfigError, ExitCode
from hlmm.log_events import EVENTS, field_order


@click.group("config")
def config() -> None:
    """Check configuration files and list the log events."""


def _rows(cfg: Config) -> list[tuple[str, str, str]]:
    """(dotted key, TOML value, source) for every effective value, overrides included."""
    rows: list[tuple[str, str, str]] = []

    def walk(obj: Any, path: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            key = f"{path}.{f.name}"
            if dataclasses.is_dataclass(value):
                walk(value, key)
            elif key == "assets.overrides":
                for coin, parts in cfg.to_dict()["assets"]["overrides"].items():
                    for leaf, leaf_value in _leaves(parts, f"{key}.{coin}"):
                        rows.append((leaf, toml_value(leaf_value), cfg.sources.get(leaf, "default")))
            else:
                rows.append((key, toml_value(value), cfg.sources.get(key, "default")))

    for name in SECTIONS:
        walk(getattr(cfg, name), name)
    return rows


def _leaves(data: dict, prefix: str) -> list[tuple[str, Any]]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}.{key}")
        else:
            out.append((f"{prefix}.{key}", value))
    return out


@config.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=True, path_type=str))
@json_option
@click.pass_context
def check(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Validate a config file and print the effective configuration.

    FILE defaults to --config, then $HLMM_CONFIG, then ./hlmm.toml; with none of
    them the built-in defaults are shown.  Every problem is listed with its key,
    value and what is allowed; the exit code is 3 if there is any.
    """
    path = config_path(file)
    shown = str(path) if path is not None else None
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if not wants_json(as_json):
            raise
        errors = [text for _, text in exc.issues] or [exc.message]
        print_json({"file": shown, "valid": False, "errors": errors})
        ctx.exit(ExitCode.CONFIG)
    warnings = cfg.warnings()
    if wants_json(as_json):
        print_json({"file": shown, "valid": True, "config": cfg.to_dict(), "sources": dict(cfg.sources),
                    "warnings": warnings})
        return
    rows = _rows(cfg)
    print_table(("KEY", "VALUE", "SOURCE"), rows)
    click.echo()
    for note in warnings:
        click.echo(f"warning: {note}")
    changed = sum(1 for _, _, source in rows if source != "default")
    if shown is None:
        click.echo("no config file (none given, no ./hlmm.toml): these are the built-in defaults")
    else:
        plural = "" if changed == 1 else "s"
        click.echo(f"{shown}: valid ({changed} value{plural} set in config files, {len(rows) - changed} defaults)")


@config.command("events")
@click.option("--component", default="", metavar="PREFIX",
              help="Only events of components starting with PREFIX (and those any component may emit).")
@json_option
def events(component: str, as_json: bool) -> None:
    """List the documented log events (the contract hlmm audit reads)."""
    chosen = {name: spec for name, spec in EVENTS.items()
              if spec.component.startswith(component) or spec.component == "*"}
    if wants_json(as_json):
        print_json({name: {"component": spec.component, "stream": spec.stream, "description": spec.description,
                           "fields": list(field_order(name))} for name, spec in chosen.items()})
        return
    print_table(("EVENT", "COMPONENT", "STREAM", "DESCRIPTION / FIELDS"),
                [(name, spec.component, spec.stream,
                  spec.description + (f"  [{' '.join(field_order(name))}]" if spec.fields else ""))
                 for name, spec in chosen.items()])
