"""Training commands: classifiers now; the IRAD implicit representation and SampleNet build on the same helpers."""
