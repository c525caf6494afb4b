"""The Collector configs in ``collector-config/`` are ones ``otelcol-contrib`` accepts
and whose output ``spanscope analyze`` reads.

No collector binary is needed: each config is merged the way the collector merges
several ``--config`` files (maps key by key, lists replaced), then checked against the
component list of the contrib distribution (``otelcol-contrib-components.json``, taken
from upstream with its version) and the file exporter's documented keys and framing.
Files laid out the way the collector writes them are then loaded by the analyzer.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
import zstandard
from spanscope.analyzer.load import read

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "collector-config"
README = CONFIG_DIR / "README.md"
COMPONENTS: dict[str, Any] = json.loads(
    (CONFIG_DIR / "otelcol-contrib-components.json").read_text(encoding="utf-8")
)
FILE_EXPORTER: dict[str, Any] = COMPONENTS["file_exporter"]

# Stands for "the config the user already runs" in README commands and config sets.
EXISTING_CONFIG = "/etc/otelcol-contrib/config.yaml"
TYPICAL_EXISTING_CONFIG = Path(__file__).with_name("typical-existing-collector.yaml")

# `spanscope analyze spanscope-traces/` is the documented command; it is also the
# folder spanscope's own file exporter writes to by default (SPANSCOPE_TRACES_DIR).
TRACES_DIR = "spanscope-traces"

COMPONENT_KINDS = ("receivers", "processors", "exporters", "extensions", "connectors")
PIPELINE_SIGNALS = ("traces", "metrics", "logs", "profiles")

# Each `--config` list the README tells users to run, by name.
CONFIG_SETS: dict[str, tuple[str, ...]] = {
    "standalone": ("collector-config/spanscope-collector.yaml",),
    "standalone with zstd": (
        "collector-config/spanscope-collector.yaml",
        "collector-config/spanscope-collector.zstd.yaml",
    ),
    "standalone forwarding to a backend": (
        "collector-config/spanscope-collector.yaml",
        "collector-config/spanscope-collector.forward.yaml",
    ),
    "standalone with tail sampling": (
        "collector-config/spanscope-collector.yaml",
        "collector-config/tail-sampling.yaml",
    ),
    "existing collector plus fragment": (
        EXISTING_CONFIG,
        "collector-config/existing-collector-fragment.yaml",
    ),
    "existing collector plus fragment with tail sampling": (
        EXISTING_CONFIG,
        "collector-config/existing-collector-fragment.yaml",
        "collector-config/tail-sampling.yaml",
    ),
}


@dataclass(frozen=True)
class Framing:
    """How the file exporter lays out messages for one (format, compression) pair."""

    description: str
    suffix: str


# What the collector's file exporter writes, and the file suffix these configs give it so
# a reader knows the framing before looking inside.  Only plain JSON is one message per
# line; `format: proto` or any compression prefixes every message with its size as a
# 4-byte big-endian integer.
FRAMINGS: dict[tuple[str, str | None], Framing] = {
    ("json", None): Framing("one OTLP JSON TracesData object per line", ".jsonl"),
    ("json", "zstd"): Framing("4-byte big-endian length + zstd frame of OTLP JSON", ".zstframes"),
    ("proto", None): Framing("4-byte big-endian length + OTLP protobuf", ".protoframes"),
    ("proto", "zstd"): Framing(
        "4-byte big-endian length + zstd frame of OTLP protobuf", ".zstprotoframes"
    ),
}


# -- loading and merging, as the collector does it ----------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: top level must be a mapping"
    return document


def config_path(name: str) -> Path:
    return TYPICAL_EXISTING_CONFIG if name == EXISTING_CONFIG else REPO_ROOT / name


def merge(base: Any, overlay: Any) -> Any:
    """Merge like the collector's confmap: maps key by key, everything else (lists
    included) replaced by the later source."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return overlay


def merged_config(files: tuple[str, ...]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in files:
        config = merge(config, load_yaml(config_path(name)))
    return config


def section(config: Mapping[str, Any], kind: str) -> dict[str, Any]:
    value = config.get(kind) or {}
    assert isinstance(value, dict), f"`{kind}` must be a mapping"
    return value


def pipelines(config: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    return dict((config.get("service") or {}).get("pipelines") or {})


def component_type(name: str) -> str:
    """`file/spanscope` -> `file`: the part before the optional `/name` suffix."""
    return name.split("/", 1)[0]


def file_exporters(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: settings or {}
        for name, settings in section(config, "exporters").items()
        if component_type(name) == "file"
    }


# -- the checks: each returns the problems it finds, so a failure names them all -----


def known_types(kind: str) -> dict[str, str]:
    """Every accepted type name (current or deprecated) of one kind -> its Go module."""
    names: dict[str, str] = {}
    for type_name, entry in COMPONENTS["component_types"][kind].items():
        for alias in (type_name, *entry.get("deprecated_types", ())):
            names[alias] = entry["module"]
    return names


def unknown_components(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for kind in COMPONENT_KINDS:
        types = known_types(kind)
        for name in section(config, kind):
            module = types.get(component_type(name))
            if module is None:
                problems.append(f"{kind}.{name}: no {kind[:-1]} type {component_type(name)!r}")
            elif module not in COMPONENTS["modules"][kind]:
                problems.append(f"{kind}.{name}: {module} is not in otelcol-contrib")
    return problems


def undefined_references(config: Mapping[str, Any]) -> list[str]:
    connectors = set(section(config, "connectors"))
    defined = {
        "receivers": set(section(config, "receivers")) | connectors,
        "processors": set(section(config, "processors")),
        "exporters": set(section(config, "exporters")) | connectors,
    }
    problems = []
    for pipeline, parts in pipelines(config).items():
        if component_type(pipeline) not in PIPELINE_SIGNALS:
            problems.append(f"pipeline {pipeline}: unknown signal")
        for kind, names in defined.items():
            problems += [
                f"pipeline {pipeline}: {kind} {name!r} is not defined"
                for name in parts.get(kind) or []
                if name not in names
            ]
    extensions = set(section(config, "extensions"))
    used_extensions = (config.get("service") or {}).get("extensions") or []
    problems += [
        f"service.extensions: {name!r} is not defined"
        for name in used_extensions
        if name not in extensions
    ]
    return problems


def unused_components(config: Mapping[str, Any]) -> list[str]:
    used = {
        name
        for parts in pipelines(config).values()
        for names in parts.values()
        for name in names or []
    }
    return [
        f"{kind}.{name} is defined but no pipeline uses it"
        for kind in ("receivers", "processors", "exporters")
        for name in section(config, kind)
        if name not in used
    ]


def unknown_file_exporter_keys(config: Mapping[str, Any]) -> list[str]:
    nested = {
        "rotation": FILE_EXPORTER["rotation_keys"],
        "group_by": FILE_EXPORTER["group_by_keys"],
    }
    problems = []
    for name, settings in file_exporters(config).items():
        problems += [
            f"{name}.{key}: unknown key" for key in settings if key not in FILE_EXPORTER["keys"]
        ]
        for block, allowed in nested.items():
            problems += [
                f"{name}.{block}.{key}: unknown key"
                for key in settings.get(block) or {}
                if key not in allowed
            ]
    return problems


# How the exporter decides that a setting excluded by `append` is switched on:
# `rotation:` counts even when empty, `compression` only when it names a codec.
ENABLED_WITH_APPEND: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "rotation": lambda settings: "rotation" in settings,
    "compression": lambda settings: bool(settings.get("compression")),
}


def append_conflicts(config: Mapping[str, Any]) -> list[str]:
    return [
        f"{name}: append cannot be combined with {key}"
        for name, settings in file_exporters(config).items()
        if settings.get("append") is True
        for key in FILE_EXPORTER["excluded_with_append"]
        if ENABLED_WITH_APPEND[key](settings)
    ]


def framing_of(settings: Mapping[str, Any]) -> Framing | None:
    return FRAMINGS.get((settings.get("format", "json"), settings.get("compression") or None))


def output_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, settings in file_exporters(config).items():
        path = PurePosixPath(str(settings.get("path", "")))
        framing = framing_of(settings)
        if path.is_absolute() or path.parent != PurePosixPath(TRACES_DIR):
            problems.append(f"{name}: {path} is not directly in ./{TRACES_DIR}/")
        if framing is None:
            problems.append(
                f"{name}: format/compression {settings.get('format')!r}/{settings.get('compression')!r} has no documented framing"
            )
        elif not path.name.endswith(framing.suffix):
            problems.append(
                f"{name}: {path.name} should end in {framing.suffix} ({framing.description})"
            )
    return problems


CHECKS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "unknown components": unknown_components,
    "undefined references": undefined_references,
    "unused components": unused_components,
    "unknown file exporter keys": unknown_file_exporter_keys,
    "append conflicts": append_conflicts,
    "output path and framing": output_problems,
}


# -- the shipped configs --------------------------------------------------------------


def shipped_yaml_files() -> list[Path]:
    return sorted(CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize(
    "path", [*shipped_yaml_files(), TYPICAL_EXISTING_CONFIG], ids=lambda p: p.name
)
def test_every_yaml_file_parses_to_a_mapping(path: Path) -> None:
    assert load_yaml(path)


def test_every_shipped_yaml_file_is_checked_in_some_config_set() -> None:
    checked = {config_path(name) for files in CONFIG_SETS.values() for name in files}
    assert [p.name for p in shipped_yaml_files() if p not in checked] == []


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("config_set", CONFIG_SETS)
def test_config_set_passes_check(config_set: str, check: str) -> None:
    assert CHECKS[check](merged_config(CONFIG_SETS[config_set])) == []


@pytest.mark.parametrize("config_set", CONFIG_SETS)
def test_spanscope_pipeline_starts_with_memory_limiter_and_ends_with_batch(config_set: str) -> None:
    processors = pipelines(merged_config(CONFIG_SETS[config_set]))["traces/spanscope"]["processors"]
    assert component_type(processors[0]) == "memory_limiter"
    assert component_type(processors[-1]) == "batch"


@pytest.mark.parametrize("config_set", CONFIG_SETS)
def test_spanscope_pipeline_writes_a_file_spanscope_analyze_reads(config_set: str) -> None:
    exporters = pipelines(merged_config(CONFIG_SETS[config_set]))["traces/spanscope"]["exporters"]
    assert "file/spanscope" in exporters


def otlp_endpoints(config: Mapping[str, Any]) -> Iterator[str]:
    for name, settings in section(config, "receivers").items():
        if component_type(name) == "otlp":
            for protocol in (settings.get("protocols") or {}).values():
                yield str((protocol or {}).get("endpoint"))


def test_shipped_receivers_listen_on_loopback_only() -> None:
    endpoints = [e for path in shipped_yaml_files() for e in otlp_endpoints(load_yaml(path))]
    assert endpoints
    assert [e for e in endpoints if not e.startswith("127.0.0.1:")] == []


def test_standalone_config_receives_otlp_over_grpc_and_http() -> None:
    endpoints = set(otlp_endpoints(merged_config(CONFIG_SETS["standalone"])))
    assert endpoints == {"127.0.0.1:4317", "127.0.0.1:4318"}


def test_zstd_variant_keeps_the_rotation_of_the_base_file() -> None:
    base = file_exporters(merged_config(CONFIG_SETS["standalone"]))["file/spanscope"]
    zstd = file_exporters(merged_config(CONFIG_SETS["standalone with zstd"]))["file/spanscope"]
    assert zstd["compression"] == "zstd"
    assert zstd["rotation"] == base["rotation"]


def test_standalone_output_is_rotated_json_lines_in_utc() -> None:
    settings = file_exporters(merged_config(CONFIG_SETS["standalone"]))["file/spanscope"]
    assert framing_of(settings) == FRAMINGS[("json", None)]
    assert settings["rotation"]["localtime"] is False
    assert settings["rotation"]["max_backups"] > 0


def test_forwarding_variant_keeps_writing_the_file() -> None:
    exporters = pipelines(merged_config(CONFIG_SETS["standalone forwarding to a backend"]))
    assert exporters["traces/spanscope"]["exporters"] == ["file/spanscope", "otlp/backend"]


def test_fragment_writes_exactly_what_the_standalone_config_writes() -> None:
    standalone = merged_config(CONFIG_SETS["standalone"])
    with_fragment = merged_config(CONFIG_SETS["existing collector plus fragment"])
    assert (
        file_exporters(with_fragment)["file/spanscope"]
        == file_exporters(standalone)["file/spanscope"]
    )


def test_fragment_leaves_every_existing_pipeline_unchanged() -> None:
    existing = pipelines(load_yaml(TYPICAL_EXISTING_CONFIG))
    merged = pipelines(merged_config(CONFIG_SETS["existing collector plus fragment"]))
    assert {name: merged[name] for name in existing} == existing
    assert set(merged) - set(existing) == {"traces/spanscope"}


def test_fragment_reuses_the_receiver_of_the_existing_collector() -> None:
    fragment = load_yaml(CONFIG_DIR / "existing-collector-fragment.yaml")
    assert section(fragment, "receivers") == {}
    assert pipelines(fragment)["traces/spanscope"]["receivers"] == ["otlp"]


def test_merging_replaces_a_pipeline_list_instead_of_appending_to_it() -> None:
    # Why the fragment adds its own pipeline: setting the existing pipeline's
    # exporters from a second --config would drop the ones already there.
    existing = load_yaml(TYPICAL_EXISTING_CONFIG)
    overlay = {"service": {"pipelines": {"traces": {"exporters": ["file/spanscope"]}}}}
    assert pipelines(merge(existing, overlay))["traces"]["exporters"] == ["file/spanscope"]


def tail_sampling_settings() -> dict[str, Any]:
    processors = section(load_yaml(CONFIG_DIR / "tail-sampling.yaml"), "processors")
    return dict(processors["tail_sampling/spanscope"])


def test_tail_sampling_keeps_slow_erroring_and_high_query_count_traces_plus_a_baseline() -> None:
    policies = {policy["type"]: policy for policy in tail_sampling_settings()["policies"]}
    assert set(policies) == {"latency", "status_code", "span_count", "probabilistic"}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["span_count"]["span_count"]["min_spans"] >= 5
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100


def test_tail_sampling_waits_longer_than_the_sdk_export_delay() -> None:
    # The SDK's batch span processor exports every 5 s by default; a shorter wait
    # would decide on traces whose spans are still on their way.
    wait = tail_sampling_settings()["decision_wait"]
    assert re.fullmatch(r"\d+s", wait) and int(wait[:-1]) > 5


def test_tail_sampling_runs_between_memory_limiter_and_batch() -> None:
    processors = pipelines(merged_config(CONFIG_SETS["standalone with tail sampling"]))
    assert processors["traces/spanscope"]["processors"] == [
        "memory_limiter/spanscope",
        "tail_sampling/spanscope",
        "batch/spanscope",
    ]


# -- the checks catch what they are meant to catch ------------------------------------


def minimal_config(**file_settings: Any) -> dict[str, Any]:
    return {
        "receivers": {"otlp": {}},
        "exporters": {"file/x": {"path": f"./{TRACES_DIR}/x.jsonl", **file_settings}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["file/x"]}}},
    }


def test_minimal_config_passes_every_check() -> None:
    problems = {name: check(minimal_config()) for name, check in CHECKS.items()}
    assert {name: found for name, found in problems.items() if found} == {}


def test_a_misspelled_component_type_is_reported() -> None:
    config = merge(minimal_config(), {"processors": {"memorylimiter": {}}})
    assert unknown_components(config) == [
        "processors.memorylimiter: no processor type 'memorylimiter'"
    ]


def test_a_renamed_type_is_accepted_under_its_deprecated_name() -> None:
    config = merge(minimal_config(), {"exporters": {"otlp/a": {}, "otlp_grpc/b": {}}})
    assert unknown_components(config) == []


def test_a_pipeline_naming_an_undefined_exporter_is_reported() -> None:
    config = merge(
        minimal_config(), {"service": {"pipelines": {"traces": {"exporters": ["file/y"]}}}}
    )
    assert undefined_references(config) == ["pipeline traces: exporters 'file/y' is not defined"]


def test_an_unknown_file_exporter_key_is_reported() -> None:
    assert unknown_file_exporter_keys(minimal_config(rotation={"max_size": 10})) == [
        "file/x.rotation.max_size: unknown key"
    ]


@pytest.mark.parametrize("excluded", [{"rotation": {}}, {"compression": "zstd"}])
def test_append_with_rotation_or_compression_is_reported(excluded: dict[str, Any]) -> None:
    assert append_conflicts(minimal_config(append=True, **excluded)) != []


def test_append_alone_is_accepted() -> None:
    assert append_conflicts(minimal_config(append=True)) == []


@pytest.mark.parametrize(
    ("path", "settings"),
    [
        ("/var/log/x.jsonl", {}),
        ("./traces/x.jsonl", {}),
        (f"./{TRACES_DIR}/x.jsonl", {"compression": "zstd"}),
        (f"./{TRACES_DIR}/x.jsonl", {"format": "proto"}),
        (f"./{TRACES_DIR}/x.jsonl", {"format": "text"}),
    ],
)
def test_an_output_spanscope_analyze_would_not_read_as_intended_is_reported(
    path: str, settings: dict[str, Any]
) -> None:
    assert output_problems(minimal_config(path=path, **settings)) != []


# -- the component list and the README --------------------------------------------------


def test_component_list_names_its_upstream_source_and_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", COMPONENTS["version"])
    assert "opentelemetry-collector-releases" in COMPONENTS["source"]["manifest"]
    assert all(
        COMPONENTS["modules"][kind]
        for kind in ("receivers", "processors", "exporters", "extensions")
    )


@pytest.mark.parametrize("kind", COMPONENT_KINDS)
def test_every_known_type_maps_to_a_module_of_the_distribution(kind: str) -> None:
    modules = set(COMPONENTS["modules"][kind])
    assert [
        t
        for t, entry in COMPONENTS["component_types"][kind].items()
        if entry["module"] not in modules
    ] == []


def readme_commands() -> list[tuple[str, ...]]:
    """The `--config` arguments of every `otelcol-contrib` command in the README."""
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if "otelcol-contrib --config" not in line:
            continue
        words = shlex.split(line[line.index("otelcol-contrib") :])
        configs = [
            words[i + 1] if word == "--config" else word.removeprefix("--config=")
            for i, word in enumerate(words)
            if word == "--config" or word.startswith("--config=")
        ]
        commands.append(tuple(c for c in configs if not c.startswith("yaml:")))
    return commands


@pytest.mark.parametrize("config_set", CONFIG_SETS)
def test_readme_shows_the_command_for_config_set(config_set: str) -> None:
    assert CONFIG_SETS[config_set] in readme_commands()


def test_readme_documents_every_framing_it_ships() -> None:
    text = README.read_text(encoding="utf-8")
    framings = {
        framing_of(settings)
        for files in CONFIG_SETS.values()
        for settings in file_exporters(merged_config(files)).values()
    }
    suffixes = sorted(framing.suffix for framing in framings if framing is not None)
    assert suffixes and [suffix for suffix in suffixes if f"`{suffix}`" not in text] == []


# -- round trip: files laid out as the collector writes them load in the analyzer --------

COLLECTOR_FORMAT_SAMPLE = REPO_ROOT / "tests" / "data" / "samples" / "django_books_nplus1.jsonl"


def sample_lines() -> list[bytes]:
    return COLLECTOR_FORMAT_SAMPLE.read_bytes().splitlines(keepends=True)


def span_count(lines: list[bytes]) -> int:
    return sum(
        len(scope["spans"])
        for line in lines
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
    )


def standalone_output_path(tmp_path: Path, config_set: str) -> Path:
    settings = file_exporters(merged_config(CONFIG_SETS[config_set]))["file/spanscope"]
    return tmp_path / PurePosixPath(settings["path"])


def test_rotated_json_lines_output_loads_whole_from_the_traces_folder(tmp_path: Path) -> None:
    lines = sample_lines()
    current = standalone_output_path(tmp_path, "standalone")
    current.parent.mkdir()
    # The exporter renames a full file with a timestamp before the extension.
    rotated = current.with_name(f"{current.stem}-2026-01-31T10-00-00.000{current.suffix}")
    rotated.write_bytes(b"".join(lines[:1]))
    current.write_bytes(b"".join(lines[1:]))

    result = read(current.parent)

    assert sorted(result.files) == sorted([str(rotated), str(current)])
    assert result.table.num_rows == span_count(lines)


def test_natively_zstd_compressed_json_lines_load_from_the_traces_folder(tmp_path: Path) -> None:
    # What `--feature-gates=exporter.file.nativeCompression` with `compression: zstd`
    # writes: one standard zstd stream of JSON lines, named collector.jsonl.zst.
    lines = sample_lines()
    output = tmp_path / TRACES_DIR / "collector.jsonl.zst"
    output.parent.mkdir()
    output.write_bytes(zstandard.ZstdCompressor().compress(b"".join(lines)))

    assert read(output.parent).table.num_rows == span_count(lines)
