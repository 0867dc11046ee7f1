"""A TEST DOUBLE for time, for code that takes its clock and sleep as arguments: sleep advances it."""


class Clock:
    """clock() is the time now; clock.sleep(seconds) moves it on at once."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
