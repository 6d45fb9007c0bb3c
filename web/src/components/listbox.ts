// The keys of a type-ahead list (Picker, VillagePicker): arrows move, Enter picks, Escape closes.
import type { Ref } from 'vue';

export function listboxKey<T>(e: KeyboardEvent, open: Ref<boolean>, active: Ref<number>, items: readonly T[], choose: (item: T) => void) {
  if (e.key === 'ArrowDown') {
    open.value = true;
    active.value = Math.min(items.length - 1, active.value + 1);
    e.preventDefault();
  } else if (e.key === 'ArrowUp') {
    active.value = Math.max(0, active.value - 1);
    e.preventDefault();
  } else if (e.key === 'Enter' && open.value && items[active.value]) {
    choose(items[active.value]);
    e.preventDefault();
  } else if (e.key === 'Escape') {
    // Closes the list; a search input would clear itself (and open the list again) otherwise.
    if (open.value) e.preventDefault();
    open.value = false;
  }
}
