"""Compare: does build B leak more than build A (the decision), and its pull-request report."""
