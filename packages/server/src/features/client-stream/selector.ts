import { FLAG_SET_PATTERN } from '@runtime-control/core';

/**
 * flagd's flag-set selector, `flagSetId=<set>`, as the client stream and snapshot take it (`?selector=`): the set
 * names of core's FLAG_SET_PATTERN, spaces around the parts allowed as flagd allows them.
 */
export const SELECTOR_PATTERN = `^\\s*flagSetId\\s*=\\s*(${FLAG_SET_PATTERN.source.slice(1, -1)})\\s*$`;
const SELECTOR = new RegExp(SELECTOR_PATTERN);

/**
 * A set no flag can be in (its name fails FLAG_SET_PATTERN): what a client reads when its selector names another set
 * than its token is limited to — an empty document, and no change ever reaches it.
 */
export const NO_FLAG_SET = '(none)';

/**
 * The flag set a client reads: its token's, narrowed by the selector it asked for. A selector can only narrow: with a
 * token limited to one set, a selector naming another one selects nothing. `selector` has passed the route schema.
 */
export function selectedFlagSet(tokenSet: string | null | undefined, selector: string | undefined): string | null {
  const token = tokenSet ?? null;
  if (selector === undefined) return token;
  const wanted = SELECTOR.exec(selector)?.[1];
  if (wanted === undefined) return NO_FLAG_SET;
  if (token === null) return wanted;
  return token === wanted ? token : NO_FLAG_SET;
}
