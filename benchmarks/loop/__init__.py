"""The measured loop: the compiled multi-step loops (compiled.py), their cut
into calls (chunks.py), the host driver that times them (driver.py) and the
meter that turns the times into img/s (meter.py)."""
