"""Which runs fill which printed table: one module per notebook (``a_tracker`` for notebook 01,
... ``f_cm_mae`` for 06). Each module's ``plan(settings)`` lists the runs its notebook makes, the
list ``vadlib reproduce --dry-run`` checks and estimates."""
