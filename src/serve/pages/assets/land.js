// The "Where does it land" page.
import { ready, showVersion } from "/assets/common.js";

showVersion().finally(ready);
