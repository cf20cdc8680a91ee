"""What only training needs: optimizers, learning-rate schedules, the step
arithmetic (steps.py), the training plan (plan.py), checkpoints and what
happens between loop calls (session.py)."""
