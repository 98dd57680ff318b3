"""Calendar providers: the contract (:mod:`.base`), their pluggy project (:mod:`.spec`) and loading
(:mod:`.registry`). Google and Outlook live in subpackages and register through entry points like any
third-party provider would."""
