"""A generated corpus of hostile and invalid wheels, and a harness that runs wheelguard on it.

``generate.py`` writes the corpus and its manifest; ``harness.py`` runs the CLI on each case
under a time and memory cap and says where the outcome differs from the manifest's.
"""
