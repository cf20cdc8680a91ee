"""The machine a run is on: CPU features and oneDNN (cpu.py), the malloc
settings (malloc.py), versions and devices for the log (environment.py), the
peak FLOP rate (peak.py) and the choices left to the device
(device_choices.py)."""
