"""Live audio at the center: streams, their segmenter (ffmpeg HLS), signed segments, tokens."""
