"""Sites of a cohort (the sheet's site column) and whether they can form site-preserved folds; plain Python, cheap
at DAG time, where the workflow checks them before any job runs."""

from __future__ import annotations

from slidesnake.core.errors import SiteError

SPLIT_BY_PATIENT, SPLIT_BY_SITE = "patient", "site"  # training.split_by


def require_sites(
    sites: dict[str, str | None], needed_by: str, sheet: str | None = None, rows: dict[str, int] | None = None
) -> None:
    """Raise a SiteError naming the sheet and the row of the first slide without a site (`needed_by`: the setting
    that needs them)."""
    rows = rows or {}
    for slide, site in sites.items():
        if site is None:
            raise SiteError(
                f"slide '{slide}' has no site, and {needed_by} needs one for every slide",
                row=rows.get(slide),
                sheet=sheet,
            )


def check_sites(
    sites: dict[str, str | None],
    patients: dict[str, str],
    folds: int,
    classes: dict[str, str] | None = None,
    sheet: str | None = None,
    rows: dict[str, int] | None = None,
) -> None:
    """Raise a SiteError (naming the sheet, the site and the row) unless the slides can form site-preserved folds:
    every slide has a site, no patient spans two sites, there are at least `folds` sites and, with `classes`
    (slide -> class of a classification task), every site has slides of every class (a held-out site needs
    both to have an AUC, and the folds need them to stay stratified)."""
    require_sites(sites, "training.split_by: site", sheet, rows)
    per_patient: dict[str, set] = {}
    for slide, site in sites.items():
        per_patient.setdefault(patients[slide], set()).add(site)
    for patient, of_patient in per_patient.items():
        if len(of_patient) > 1:
            raise SiteError(
                f"patient '{patient}' has slides at sites {sorted(of_patient)}: site-preserved folds keep a "
                "patient's slides together, so give them one site",
                sheet=sheet,
            )
    names = sorted(set(sites.values()))
    if len(names) < folds:
        raise SiteError(
            f"{folds}-fold site-preserved cross-validation needs at least {folds} sites; the sheet has "
            f"{len(names)} ({', '.join(names)}): set training.folds to {len(names)} (leave-one-site-out) or less",
            sheet=sheet,
        )
    if classes:
        wanted = sorted(set(classes.values()))
        for site in names:
            held = {classes[s] for s, at in sites.items() if at == site}
            missing = [c for c in wanted if c not in held]
            if missing:
                raise SiteError(
                    f"no slides of class(es) {missing}; site-preserved folds need every class at every site "
                    "(or merge the site with another, or split by patient)",
                    site,
                    sheet=sheet,
                )
