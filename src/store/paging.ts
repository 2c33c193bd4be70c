/** A page of a register: at most `limit` rows after skipping `offset`. */
export interface Paging {
  limit: number;
  offset: number;
}
