"""Pure computation: signals -> KPIs (catalog) -> grades -> maturity level. No network here."""
