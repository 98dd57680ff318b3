"""OAuth plumbing shared by the providers: tokens (:mod:`.tokens`), PKCE and single-use state
(:mod:`.oauth`), and signed links (:mod:`.links`)."""
