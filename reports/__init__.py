"""Reports from run logs: ``logs`` reads them, ``table`` makes the rows and
formats, ``plots`` draws the figures, ``make_report`` ties them together for
scripts/report.py."""
