"""The scheduler: emits the timer events of Koku's beat schedule, nothing else."""
