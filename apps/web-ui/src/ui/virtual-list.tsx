import {
  elementScroll,
  observeElementOffset,
  observeElementRect,
  Virtualizer,
} from '@tanstack/virtual-core'
import type { ComponentChildren } from 'preact'
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks'

/**
 * A scrolling list that renders only the rows in view (TanStack Virtual's core, which has no
 * Preact adapter: this is the adapter). Rows have a fixed height so 50,000 of them cost nothing.
 */
export function VirtualList<T>(props: {
  items: readonly T[]
  rowHeight: number
  render: (item: T, index: number) => ComponentChildren
  label: string
  class?: string
}) {
  const scrollRef = useRef<HTMLDivElement>(null)
  const [, rerender] = useReducer((n: number) => n + 1, 0)
  const [virtualizer] = useState(
    () =>
      new Virtualizer<HTMLDivElement, Element>({
        count: props.items.length,
        getScrollElement: () => scrollRef.current,
        estimateSize: () => props.rowHeight,
        overscan: 8,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(undefined as never),
      }),
  )
  virtualizer.setOptions({
    ...virtualizer.options,
    count: props.items.length,
    estimateSize: () => props.rowHeight,
  })
  useLayoutEffect(() => virtualizer._willUpdate())
  useEffect(() => virtualizer._didMount(), [virtualizer])

  const rows = virtualizer.getVirtualItems()
  return (
    <div
      ref={scrollRef}
      class={`vlist ${props.class ?? ''}`}
      // A short list takes only the room it needs; a long one scrolls inside its box.
      style={{ maxHeight: `${props.items.length * props.rowHeight + 2}px` }}
    >
      <ul
        aria-label={props.label}
        style={{
          height: `${virtualizer.getTotalSize()}px`,
          position: 'relative',
          margin: 0,
          padding: 0,
          listStyle: 'none',
        }}
      >
        {rows.map((row) => {
          const item = props.items[row.index]
          if (item === undefined) return null
          return (
            <li
              key={row.key}
              class="vrow"
              style={{
                position: 'absolute',
                top: 0,
                left: 0,
                right: 0,
                height: `${props.rowHeight}px`,
                transform: `translateY(${row.start}px)`,
              }}
            >
              {props.render(item, row.index)}
            </li>
          )
        })}
      </ul>
    </div>
  )
}
