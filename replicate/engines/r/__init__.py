"""Live reference engines in R through rpy2: lme4/lmerTest (with pbkrtest, clubSandwich) and nlme.

``session`` starts R and holds the constant R helper code (``helpers.R``), ``frames`` turns a Design
into checked names and an R data frame, ``lme4`` and ``nlme`` are the engines.
"""
