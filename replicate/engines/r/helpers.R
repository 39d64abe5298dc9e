# Constant R code for replicate's live reference engines (lme4/lmerTest, nlme, pbkrtest, clubSandwich).
# Read by replicate/engines/r/session.py and evaluated once into a private environment. No text from a
# case file is ever pasted into R code: formulas are built here from symbols (as.name, call), data come
# as values.
local({
  rhs_sum <- function(cols, intercept) {
    e <- if (isTRUE(intercept)) 1 else 0
    for (nm in cols) e <- call("+", e, as.name(nm))
    e
  }
  make_formula <- function(response, fixed, intercept, groups, cols, intercepts) {
    rhs <- rhs_sum(fixed, intercept)
    for (i in seq_along(groups)) {
      bar <- call("|", rhs_sum(cols[[i]], intercepts[[i]]), as.name(groups[[i]]))
      rhs <- call("+", rhs, call("(", bar))
    }
    f <- eval(call("~", as.name(response), rhs))
    environment(f) <- baseenv()
    f
  }
  one_sided <- function(cols, intercept) {
    f <- eval(call("~", rhs_sum(cols, intercept)))
    environment(f) <- baseenv()
    f
  }
  fixed_formula <- function(response, fixed, intercept) {
    f <- eval(call("~", as.name(response), rhs_sum(fixed, intercept)))
    environment(f) <- baseenv()
    f
  }
  set_names <- function(d, nm) { names(d) <- nm; d }
  deparse1line <- function(x) paste(trimws(deparse(x, width.cutoff = 500L)), collapse = " ")
  capture <- function(expr_call, env) {
    warns <- character(); msgs <- character()
    value <- tryCatch(
      withCallingHandlers(eval(expr_call, env),
        warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
        message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") }),
      error = function(e) structure(list(message = conditionMessage(e)), class = "replicate_error"))
    list(value = value, warnings = warns, messages = msgs)
  }
  # The environment a model is evaluated in: the data only, then the base
  # packages (stats first: lme4 looks up 'weights' there), never the global
  # environment, so a name missing from the data is an error, not a global.
  private_env <- function() {
    parent <- if ("package:stats" %in% search()) as.environment("package:stats") else baseenv()
    new.env(parent = parent)
  }
  tight_control <- quote(lme4::lmerControl(optCtrl = list(ftol_abs = 1e-15, ftol_rel = 1e-15,
                                                            xtol_abs = 1e-13, xtol_rel = 1e-13)))
  fit_lmer <- function(dat, f, reml, weighted, tight, offset) {
    env <- private_env()
    assign("dat", dat, envir = env)
    environment(f) <- env
    cl <- call("lmer", formula = f, data = quote(dat), REML = reml)
    if (weighted) cl$weights <- as.name(".weights")
    if (offset) cl$offset <- as.name(".offset")
    if (tight) cl$control <- tight_control
    cl[[1L]] <- quote(lmerTest::lmer)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  chr <- function(x) { x <- as.character(x); x[is.na(x)] <- ""; x }
  extract_lmer <- function(fit) {
    vc <- as.data.frame(lme4::VarCorr(fit))
    ll <- stats::logLik(fit)
    reml <- lme4::isREML(fit)
    sm <- summary(fit)
    cf <- stats::coef(sm)
    ng <- lme4::ngrps(fit)
    re <- lme4::ranef(fit)
    conv <- fit@optinfo$conv
    list(
      fixnames = names(lme4::fixef(fit)), fixef = unname(lme4::fixef(fit)),
      vcov = unname(as.matrix(stats::vcov(fit))),
      coef = unname(as.matrix(cf)), coefcols = colnames(cf),
      vc_grp = chr(vc$grp), vc_var1 = chr(vc$var1), vc_var2 = chr(vc$var2),
      vc_vcov = vc$vcov, vc_sdcor = vc$sdcor,
      sigma = stats::sigma(fit), theta = unname(lme4::getME(fit, "theta")),
      loglik = as.numeric(ll), npar = as.integer(attr(ll, "df")), reml = reml,
      remlcrit = if (reml) lme4::REMLcrit(fit) else NA_real_,
      deviance = if (reml) NA_real_ else stats::deviance(fit),
      aic = stats::AIC(fit), bic = stats::BIC(fit), nobs = as.integer(stats::nobs(fit)),
      ngrps = as.integer(ng), ngrps_names = names(ng),
      singular = lme4::isSingular(fit),
      conv_opt = as.integer(if (is.null(conv$opt)) 0L else conv$opt),
      conv_msgs = chr(unlist(conv$lme4$messages)),
      optimizer = chr(fit@optinfo$optimizer), opt_message = chr(fit@optinfo$message),
      feval = as.integer(if (is.null(fit@optinfo$feval)) NA else fit@optinfo$feval),
      theta_start = unname(as.numeric(fit@optinfo$val)),
      fitted = unname(as.numeric(stats::fitted(fit))), resid = unname(as.numeric(stats::residuals(fit))),
      ranef = lapply(re, as.matrix), ranef_names = names(re),
      is_lmertest = inherits(fit, "lmerModLmerTest"))
  }
  kenward_roger <- function(fit) {
    V0 <- as.matrix(stats::vcov(fit))
    Va <- pbkrtest::vcovAdj(fit)  # keeps the attributes (P, W) that Lb_ddf needs
    p <- ncol(V0)
    df <- vapply(seq_len(p), function(j) {
      L <- matrix(0, nrow = 1L, ncol = p); L[1L, j] <- 1
      as.numeric(pbkrtest::Lb_ddf(L, V0, Va))
    }, numeric(1))
    list(df = df, se = sqrt(diag(as.matrix(Va))))
  }
  anova_lrt <- function(m1, m2, refit) {
    a <- suppressMessages(lme4:::anova.merMod(m1, m2, refit = refit))
    k <- nrow(a)
    list(chisq = a$Chisq[k], df = a$Df[k], p = a[["Pr(>Chisq)"]][k],
         logliks = as.numeric(a$logLik), npar = as.numeric(a$npar))
  }
  club_sandwich <- function(fit, type) {
    V <- clubSandwich::vcovCR(fit, type = type)
    ct <- clubSandwich::coef_test(fit, vcov = V, test = "Satterthwaite")
    list(se = unname(sqrt(diag(as.matrix(V)))), df = unname(as.numeric(ct$df_Satt)))
  }
  fit_lme <- function(dat, fixed, random, reml, weighted) {
    env <- private_env()
    assign("dat", dat, envir = env)
    environment(fixed) <- env
    for (i in seq_along(random)) environment(random[[i]]) <- env
    cl <- call("lme", fixed = fixed, random = random, data = quote(dat),
               method = if (reml) "REML" else "ML")
    if (weighted) {
      vf <- call("varFixed", eval(call("~", as.name(".invweights"))))
      vf[[1L]] <- quote(nlme::varFixed)
      cl$weights <- vf
    }
    cl[[1L]] <- quote(nlme::lme)
    out <- capture(cl, env)
    out$call <- deparse1line(cl)
    out
  }
  extract_lme <- function(fit) {
    tt <- summary(fit)$tTable
    ll <- stats::logLik(fit)
    rs <- fit$modelStruct$reStruct
    mats <- lapply(as.matrix(rs), function(m) unname(as.matrix(m)))
    ng <- fit$dims$ngrps
    re <- nlme::ranef(fit)
    if (is.data.frame(re)) re <- stats::setNames(list(re), names(rs))
    list(
      fixnames = names(nlme::fixef(fit)), fixef = unname(nlme::fixef(fit)),
      vcov = unname(as.matrix(stats::vcov(fit))),
      coef = unname(as.matrix(tt)), coefcols = colnames(tt),
      sigma = fit$sigma, re_names = names(mats), re_mats = mats,
      loglik = as.numeric(ll), npar = as.integer(attr(ll, "df")),
      aic = stats::AIC(fit), bic = stats::BIC(fit), nobs = as.integer(fit$dims$N),
      ngrps = as.integer(ng), ngrps_names = names(ng),
      iterations = as.integer(if (is.null(fit$numIter)) NA else fit$numIter),
      fitted = unname(as.numeric(stats::fitted(fit))), resid = unname(as.numeric(stats::residuals(fit))),
      ranef = lapply(re, as.matrix), ranef_names = names(re))
  }
  versions <- function(pkgs) {
    v <- vapply(pkgs, function(p) {
      d <- tryCatch(utils::packageDescription(p, fields = "Version"), error = function(e) NA)
      if (is.null(d) || is.na(d)) "" else as.character(d)
    }, character(1))
    c(R = sub("^R version ", "", R.version.string), v)
  }
  have <- function(pkgs) vapply(pkgs, function(p) requireNamespace(p, quietly = TRUE), logical(1))
  environment()
})
