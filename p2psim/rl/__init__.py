"""The equity coordinator: a PettingZoo environment and PPO training (in progress)."""
