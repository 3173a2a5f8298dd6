"""The two planning jobs: grid red stations and e-bike charging piles (with their fire-lane rules)."""
