# Constant R code for replicate's live GLMM references: lme4::glmer and MASS::glmmPQL. Read by
# replicate/engines/r/glmer.py and evaluated once in an environment whose parent holds helpers.R's functions
# (make_formula, capture, private_env, deparse1line, chr). No text from a case file is pasted into R code:
# formulas come built from symbols, the family is one of two fixed calls chosen by name, data come as values.
local({
  glmm_family <- function(family, link) {
    switch(family,
      binomial = call("binomial", link = link),
      poisson = call("poisson", link = link),
      stop("the family must be binomial or poisson"))
  }
  with_failures <- function(f, failures) {
    if (nzchar(failures)) f[[2L]] <- call("cbind", f[[2L]], as.name(failures))
    f
  }
  tight_glmer <- quote(lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                                          optCtrl = list(rhobeg = 2e-3, rhoend = 1e-10, maxfun = 1e5)))
  fit_glmer <- function(dat, f, family, link, nagq, weighted, offset, tight, failures) {
    env <- private_env()
    assign("dat", dat, envir = env)
    f <- with_failures(f, failures)
    environment(f) <- env
    cl <- call("glmer", formula = f, data = quote(dat), family = glmm_family(family, link),
               nAGQ = as.integer(nagq))
    if (weighted) cl$weights <- as.name(".weights")
    if (offset) cl$offset <- as.name(".offset")
    if (tight) cl$control <- tight_glmer
    cl[[1L]] <- quote(lme4::glmer)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  extract_glmer <- function(fit) {
    sm <- summary(fit)
    cf <- stats::coef(sm)
    vc <- as.data.frame(lme4::VarCorr(fit))
    ng <- lme4::ngrps(fit)
    conv <- fit@optinfo$conv
    list(fixnames = rownames(cf), coef = unname(as.matrix(cf)), coefcols = colnames(cf),
         vc_grp = chr(vc$grp), vc_var1 = chr(vc$var1), vc_var2 = chr(vc$var2),
         vc_vcov = vc$vcov, vc_sdcor = vc$sdcor,
         aictab = unname(sm$AICtab), aicnames = names(sm$AICtab),
         resid = unname(stats::quantile(sm$residuals, na.rm = TRUE)),
         nobs = as.integer(stats::nobs(fit)), ngrps = as.integer(ng), ngrps_names = names(ng),
         conv_opt = as.integer(if (is.null(conv$opt)) 0L else conv$opt),
         conv_msgs = chr(unlist(conv$lme4$messages)))
  }
  fit_pql <- function(dat, fixed, cols, intercept, group, family, link, failures) {
    env <- private_env()
    assign("dat", dat, envir = env)
    fixed <- with_failures(fixed, failures)
    environment(fixed) <- env
    random <- eval(call("~", call("|", rhs_sum(cols, intercept), as.name(group))))
    environment(random) <- env
    cl <- call("glmmPQL", fixed = fixed, random = random, family = glmm_family(family, link),
               data = quote(dat), verbose = FALSE)
    cl[[1L]] <- quote(MASS::glmmPQL)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  extract_pql <- function(p) {
    tt <- summary(p)$tTable
    re <- as.matrix(p$modelStruct$reStruct[[1L]]) * p$sigma^2  # VarCorr() prints these rounded
    v <- c(diag(re), p$sigma^2)
    list(fixnames = rownames(tt), ttable = unname(as.matrix(tt)), ttcols = colnames(tt),
         vc_names = c(colnames(re), "Residual"), vc_var = unname(v), vc_sd = unname(sqrt(v)),
         sigma = p$sigma, nobs = as.integer(p$dims$N), ngrps = as.integer(p$dims$ngrps[[1L]]))
  }
  environment()
})
