"""Where the runs' spans go (`adw_tui.runtime.tracing` makes them): to an OTLP endpoint
when the standard variables name one (`OTEL_EXPORTER_OTLP_ENDPOINT`, or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; OTLP over HTTP with protobuf), else as OTLP JSON
lines to `traces.jsonl` beside the database, one line per batch of spans. The standard
variables apply as the SDK reads them (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_EXPORTER_OTLP_HEADERS`, ...); `OTEL_SDK_DISABLED=true` turns tracing off.
"""

import base64
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from adw_tui.observability.file_lock import FileLock
from adw_tui.runtime import tracing

TRACES_FILE = "traces.jsonl"
SERVICE_NAME = "adw"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_IDS = ("traceId", "spanId", "parentSpanId")


def configure_tracing(
    log_dir: Path | None, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """Turn tracing on for this process, unless `OTEL_SDK_DISABLED` says not to or there
    is nowhere to send spans; the provider (its spans are flushed at exit), or None."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    exporter: SpanExporter
    if any(environ.get(name) for name in _ENDPOINTS):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif log_dir is not None:
        exporter = JsonLinesSpanExporter(log_dir / TRACES_FILE)
    else:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracing.enable(provider.get_tracer("adw_tui"))
    return provider


class JsonLinesSpanExporter(SpanExporter):
    """Each batch as one line of OTLP JSON (an `ExportTraceServiceRequest`, its ids in
    hex as the OTLP/JSON encoding wants them), appended under a lock the processes
    sharing the file take in turn."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = FileLock(path.with_name(path.name + ".lock"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        request = MessageToDict(encode_spans(spans))
        line = json.dumps(_hex_ids(request), separators=(",", ":")) + "\n"
        try:
            with self._lock.held(), self._path.open("a", encoding="utf-8") as file:
                file.write(line)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._lock.close()


def _hex_ids(value: Any) -> Any:
    """Protobuf's JSON writes bytes (the trace and span ids) in base64; OTLP/JSON wants
    them in hex."""
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in _IDS else _hex_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value
