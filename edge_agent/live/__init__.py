"""Live audio on the device: pull signed segments, decode, play each sample at its instant."""
