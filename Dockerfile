# One image for the control center and the simulated devices (docker-compose.yml picks the
# command). Python 3.11 on Debian 12, like the development machines.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg: media/ validates, normalises and encodes uploads with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Not root; /data is the mount point of each service's named volume.
RUN useradd --system --create-home --home-dir /home/tt tt \
    && mkdir -p /data && chown tt:tt /data
USER tt
ENV TT_DATA_DIR=/data

EXPOSE 8000
CMD ["python", "-m", "control_center", "serve", "--host", "0.0.0.0", "--port", "8000"]
