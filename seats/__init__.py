"""seats: enrollment and seat-allocation simulator for a district education bureau.

Verifiable admission lotteries (电脑派位), balanced classes (均衡编班) and teacher teams (均衡配班),
capacity-gap analysis and Monte Carlo forecasts, with hash-chained audit logs.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seats")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
