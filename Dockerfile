# One image for the control center and the simulated devices (docker-compose.yml picks the
# command). Python 3.11 on Debian 12, like the development machines.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg (ffprobe with it): media/ validates, normalises and encodes uploads.
# espeak-ng (with its Vietnamese voices): the offline TTS of typed bulletins and emergencies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The runtime dependencies only (pyproject.toml's [project] dependencies), at the versions
# requirements.lock pins; the lock's test and lint tools stay out of the image. First, so a
# code change does not reinstall them.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/runtime.txt \
    && pip install -c requirements.lock -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt

COPY . .

# Not root; /data is the mount point of each service's named volume, /enrol the simulated
# devices' enrolment codes (docker-compose.yml). A named volume mounted on an existing
# directory takes its owner, so both are made here.
RUN useradd --system --create-home --home-dir /home/tt tt \
    && mkdir -p /data /enrol && chown tt:tt /data /enrol
USER tt
ENV TT_DATA_DIR=/data

EXPOSE 8000
CMD ["python", "-m", "control_center", "serve", "--host", "0.0.0.0", "--port", "8000"]
