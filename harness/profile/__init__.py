"""Profilers a run can put the target under (memray), and what their captures say."""
