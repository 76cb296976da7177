"""InfluxQL reads for the device page charts and the fleet's latest samples."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import requests
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError  # type: ignore[import-untyped]

from control_center.errors import CenterError
from control_center.telemetry.health_fields import CHART_FIELDS as CHART_FIELDS  # re-exported
from control_center.telemetry.writer import make_client
from protocol.topics import validate_device_id

log = logging.getLogger(__name__)
Series = list[tuple[datetime, float]]


class InfluxUnavailable(CenterError):
    """InfluxDB is not configured or did not answer a query."""

    status_code = 503


class InfluxReader:
    def __init__(self, url: str, database: str, timeout_s: float = 10.0) -> None:
        self._client = make_client(url, database, timeout_s)

    def close(self) -> None:
        self._client.close()

    def _query(self, q: str) -> list[tuple[dict[str, str], list[dict[str, object]]]]:
        """(tags, points) per series; each point maps column names to values."""
        try:
            result = self._client.query(q, epoch="ms")
        except InfluxDBClientError as exc:
            if "database not found" in str(exc):
                return []  # nothing written yet: the writer creates it with the first sample
            raise InfluxUnavailable(str(exc)[:300]) from exc
        except (requests.RequestException, InfluxDBServerError) as exc:
            raise InfluxUnavailable(str(exc)[:300]) from exc
        out = []
        for series in result.raw.get("series", []):
            columns = series["columns"]
            points = [dict(zip(columns, values, strict=True)) for values in series["values"]]
            out.append((series.get("tags") or {}, points))
        return out

    def device_series(self, device_id: str, hours: float, limit: int = 2000) -> dict[str, Series]:
        """The newest ``limit`` samples of the last ``hours`` hours, per chart field, oldest
        first."""
        device_id = validate_device_id(device_id)  # safe to inline in InfluxQL
        fields = ", ".join(CHART_FIELDS)
        q = (f"SELECT {fields} FROM health WHERE device_id = '{device_id}' "
             f"AND time > now() - {int(hours * 3600)}s ORDER BY time DESC LIMIT {int(limit)}")
        series: dict[str, Series] = {f: [] for f in CHART_FIELDS}
        for _, points in self._query(q):
            for point in points:
                stamp = point["time"]
                if not isinstance(stamp, int | float):
                    continue
                at = datetime.fromtimestamp(stamp / 1000.0, UTC)
                for name in CHART_FIELDS:
                    value = point.get(name)
                    if isinstance(value, int | float):
                        series[name].append((at, float(value)))
        for values in series.values():
            values.sort(key=lambda p: p[0])
        return series

    def last_samples(self, hours: float = 24.0) -> dict[str, dict[str, object]]:
        """The newest health point of every device (the fleet overview from InfluxDB)."""
        q = (f"SELECT * FROM health WHERE time > now() - {int(hours * 3600)}s "
             "GROUP BY device_id ORDER BY time DESC LIMIT 1")
        out: dict[str, dict[str, object]] = {}
        for tags, points in self._query(q):
            if points and "device_id" in tags:
                out[tags["device_id"]] = points[0]
        return out

    def reported_buckets(self, *, start: datetime, end: datetime,
                         bucket_ms: int) -> dict[str, int]:
        """Per device: how many intervals of ``bucket_ms`` (counted from the Unix epoch)
        within [start, end) hold at least one health sample (device availability)."""
        lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        q = (f"SELECT COUNT(n) FROM (SELECT COUNT(sample_id) AS n FROM health "
             f"WHERE time >= {lo}ms AND time < {hi}ms "
             f"GROUP BY time({int(bucket_ms)}ms), device_id fill(none)) GROUP BY device_id")
        out: dict[str, int] = {}
        for tags, points in self._query(q):
            count = points[0].get("count") if points else None
            if "device_id" in tags and isinstance(count, int):
                out[tags["device_id"]] = count
        return out
