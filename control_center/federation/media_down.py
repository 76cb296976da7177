"""The media of an audio bulletin from the parent, fetched by hash before the bulletin is made.

The parent names the original upload (``BulletinDown.media``: its SHA-256 and size); the child
downloads it from ``GET {parent}/api/v1/media/{sha256}`` (public, content-addressed), checks
the size and hash, and puts it through its own media intake, as an upload, so the child makes
its own renditions for its devices. The download runs on a small thread pool, never inside the
request that delivered the message: until the media is ready the message is answered
``retry`` (``MediaNotReady``, a 503) and the sender's backoff brings it back; a download that
cannot succeed (404 at the parent, a wrong hash or size, not audio, too large) is refused for
good with its reason.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.actor import Actor
from control_center.errors import CenterError, InvalidInput
from control_center.federation.messages import MediaRef
from control_center.models import FederationPeer, MediaAsset, MediaState
from control_center.services.media_intake import MediaIntake

log = logging.getLogger(__name__)

MEDIA_PATH = "/api/v1/media/"
_CHUNK = 256 * 1024


class MediaNotReady(CenterError):
    """The bulletin's media is being fetched or processed: the sender tries again later."""

    status_code = 503


@dataclass(frozen=True, slots=True)
class _Want:
    url: str
    media: MediaRef
    center_id: str


class MediaFetcher:
    """Downloads the parent's media by hash (one download per hash at a time) and hands it to
    the intake; remembers the downloads that failed for good, with their reason."""

    def __init__(self, *, intake: MediaIntake, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], timeout_s: float = 60.0,
                 workers: int = 2) -> None:
        self._intake = intake
        self._sessions = sessions
        self._clock = clock
        self._timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fed-media")
        self._lock = threading.Lock()
        self._running: dict[str, Future[None]] = {}
        self._failed: dict[str, str] = {}
        self._last_error: dict[str, str] = {}

    def ready(self, session: Session, *, peer: FederationPeer, media: MediaRef) -> MediaAsset:
        """The processed asset, or MediaNotReady (fetching or processing: retry) or
        InvalidInput (it will never be usable: refuse, with the reason)."""
        if media.size > self._intake.max_upload_bytes:
            raise InvalidInput(f"tệp âm thanh quá lớn / the media is {media.size} bytes, over "
                               f"this center's limit of {self._intake.max_upload_bytes} "
                               "(TT_MAX_UPLOAD_BYTES)")
        asset = session.get(MediaAsset, media.sha256)
        if asset is not None:
            if asset.state == MediaState.READY:
                return asset
            if asset.state == MediaState.FAILED:
                raise InvalidInput(f"không xử lý được âm thanh / media {media.sha256} could not "
                                   f"be processed here: {asset.error}")
            raise MediaNotReady(f"đang xử lý âm thanh / media {media.sha256} is being "
                                "processed")
        with self._lock:
            if media.sha256 in self._failed:
                raise InvalidInput(self._failed[media.sha256])
            if media.sha256 not in self._running:
                want = _Want(peer.url, media, peer.center_id)
                self._running[media.sha256] = self._pool.submit(self._fetch, want)
            last = self._last_error.get(media.sha256, "")
        raise MediaNotReady(f"đang tải âm thanh từ cấp trên / fetching media {media.sha256} "
                            f"from {peer.center_id}" + (f" (last try: {last})" if last else ""))

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _fetch(self, want: _Want) -> None:
        sha = want.media.sha256
        try:
            self._download(want)
            with self._lock:
                self._last_error.pop(sha, None)
        except InvalidInput as exc:  # for good: the message is refused with this reason
            log.warning("media %s from %s refused: %s", sha, want.center_id, exc)
            with self._lock:
                self._failed[sha] = str(exc)
        except (CenterError, httpx.HTTPError, OSError) as exc:  # try again on the next resend
            log.warning("media %s from %s: %s; tried again on the next delivery", sha,
                        want.center_id, exc)
            with self._lock:
                self._last_error[sha] = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            with self._lock:
                self._running.pop(sha, None)

    def _download(self, want: _Want) -> None:
        sha, size = want.media.sha256, want.media.size
        sink = self._intake.sink()
        digest = hashlib.sha256()
        try:
            with httpx.stream("GET", want.url + MEDIA_PATH + sha,
                              timeout=self._timeout_s) as answer:
                if answer.status_code == 404:
                    raise InvalidInput(f"cấp trên không có tệp / {want.center_id} has no media "
                                       f"{sha} (404)")
                answer.raise_for_status()
                for chunk in answer.iter_bytes(_CHUNK):
                    if sink.size + len(chunk) > size:
                        raise InvalidInput(f"tệp lớn hơn đã báo / media {sha} is larger than "
                                           f"the {size} bytes announced")
                    digest.update(chunk)
                    sink.write(chunk)
            if sink.size != size or digest.hexdigest() != sha:
                raise InvalidInput(f"sai mã băm / media {sha} does not match: got "
                                   f"{sink.size} bytes hashing to {digest.hexdigest()}")
        except BaseException:
            sink.discard()
            raise
        actor = Actor(name=f"trung ương / central: {want.center_id}"[:100])
        with self._sessions() as session:
            try:
                self._intake.receive(session, sink=sink, name=f"{want.center_id}:{sha}",
                                     actor=actor, now=self._clock())
            except CenterError as exc:
                if exc.status_code in (415, 422):  # not audio, too long: never usable
                    raise InvalidInput(f"âm thanh không dùng được / media {sha}: {exc}") from exc
                raise
