"""Books quoted in issues, shared by the tests that pin them (data, not logic)."""

#: PyPortfolioOpt's 9-name max-Sharpe book, allocated with $25,056 (issue 12).
PYPFOPT_PRICES = {
    "GOOG": 1019.97,
    "AAPL": 172.44,
    "FB": 166.32,
    "BABA": 175.36,
    "AMZN": 1427.05,
    "BBY": 70.91,
    "MA": 172.36,
    "PFE": 35.79,
    "SBUX": 59.42,
}
PYPFOPT_WEIGHTS = dict(
    zip(
        PYPFOPT_PRICES,
        [0.038354, 0.068899, 0.206031, 0.073146, 0.040329, 0.013235, 0.353487, 0.195702, 0.010816],
        strict=True,
    )
)
PYPFOPT_CASH = 25_056.0
