/**
 * The hls.js chunk: loaded by the player only when a recording plays, so the live path stays
 * small (budget.json gives it its own entry). The light build: no subtitles, alternate audio,
 * EME or CMCD, none of which a wisp recording has.
 */
import Hls from 'hls.js/light';

export default Hls;
